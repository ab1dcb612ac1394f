package main

import (
	"fmt"
	"runtime/debug"

	"github.com/korthops/korthops/bootstrap"
	"github.com/spf13/cobra"
)

func newVersionCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the korthops version, the Flux version it installs and the Kubernetes schema version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			korthopsVersion := "(devel)"
			if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
				korthopsVersion = info.Main.Version
			}
			fluxVersion := bootstrap.FluxVersion()
			fmt.Fprintf(c.stdout, "korthops: %s\nflux: %s\nkubernetes schemas: %s\n", korthopsVersion, fluxVersion, kubernetesSchemaVersion())
			return nil
		},
	}
}
