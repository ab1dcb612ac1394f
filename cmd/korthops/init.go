package main

import (
	"fmt"

	"github.com/korthops/korthops/layout"
	"github.com/spf13/cobra"
)

func newInitCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Write the infrastructure and apps bases into a new or empty repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, changes, err := layout.Init(c.global.repo)
			if err != nil {
				return err
			}
			printChanges(c, changes)
			fmt.Fprintf(c.stdout, "korthops repository ready in %s\nnext: korthops cluster add NAME --provider onprem --ingress istio --domain pacs.example.org\n", repo.Root())
			return nil
		},
	}
}

func printChanges(c *cli, changes []layout.Change) {
	if len(changes) == 0 {
		fmt.Fprintln(c.stdout, "nothing to change")
		return
	}
	for _, ch := range changes {
		verb := "wrote"
		if ch.Deleted {
			verb = "removed"
		}
		fmt.Fprintf(c.stdout, "%-7s %s\n", verb, ch.Path)
	}
}
