package main

import (
	"strings"

	"github.com/korthops/korthops/diff"
	"github.com/korthops/korthops/validate"
	"github.com/spf13/cobra"
)

func newDiffCmd(c *cli) *cobra.Command {
	var base, cluster, output string
	var exitCode bool
	cmd := &cobra.Command{
		Use:   "diff --base REF",
		Short: "Show what the working tree changes in each cluster compared with a git revision, offline",
		Long: "diff renders every cluster a change can affect at REF (read from git's object store, no checkout) and in\n" +
			"the working tree, as validate builds them, and prints the added, changed and removed objects.\n" +
			"Exit 0 (with --exit-code: 1 when something differs); 2 on error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := diff.Run(cmd.Context(), c.global.repo, diff.Opts{Base: base, Cluster: cluster, Validate: validate.Opts{}})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := res.Write(c.stdout, output); err != nil {
				return &exitError{code: 2, err: err}
			}
			if exitCode && res.HasChanges() {
				return &exitError{code: 1, err: silentError{errChanges}}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&base, "base", "", "git revision to compare with, e.g. origin/main")
	cmd.Flags().StringVar(&cluster, "cluster", "", "one cluster only")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(diff.Formats(), "|"))
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when a cluster differs")
	_ = cmd.MarkFlagRequired("base")
	return cmd
}

var errChanges = errorString("clusters differ")

type errorString string

func (e errorString) Error() string { return string(e) }
