package main

import (
	"fmt"
	"strings"

	"github.com/korthops/korthops/bootstrap"
	"github.com/korthops/korthops/validate"
	"github.com/spf13/cobra"
)

func newImagesCmd(c *cli) *cobra.Command {
	var cluster, registry string
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List every container image a cluster will run, one per line, for mirroring",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := bootstrap.Images(cmd.Context(), c.global.repo, cluster, registry, validate.Opts{})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			for _, img := range list.Images {
				fmt.Fprintln(c.stdout, img)
			}
			if len(list.Unrendered) > 0 {
				fmt.Fprintf(c.stderr, "note: Helm charts are not rendered offline; add the images of these HelmReleases from their charts: %s\n",
					strings.Join(list.Unrendered, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster", "", "one cluster (default: all)")
	cmd.Flags().StringVar(&registry, "registry", "", "registry mirror for the Flux controller images, as bootstrap --registry")
	return cmd
}
