package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// globalFlags are the flags every command shares.
type globalFlags struct {
	repo    string
	noColor bool
}

// cli is what every command needs: the global flags and where to print.
type cli struct {
	global globalFlags
	stdout io.Writer
	stderr io.Writer
}

// color reports whether output may use ANSI colour: a terminal, no --no-color, no NO_COLOR.
func (c *cli) color() bool {
	if c.global.noColor || os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := c.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	c := &cli{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "korthops",
		Short:         "Scaffold, validate and bootstrap Flux repositories that run Orthanc on Kubernetes",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: 2, err: err} })
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&c.global.repo, "repo", "C", ".", "repository directory")
	root.PersistentFlags().BoolVar(&c.global.noColor, "no-color", false, "disable colour output (also: NO_COLOR)")
	root.AddCommand(
		newInitCmd(c),
		newClusterCmd(c),
		newValidateCmd(c),
		newSchemasCmd(c),
		newBootstrapCmd(c),
		newStatusCmd(c),
		newImagesCmd(c),
		newBuildCmd(c),
		newDiffCmd(c),
		newVersionCmd(c),
	)
	return root
}
