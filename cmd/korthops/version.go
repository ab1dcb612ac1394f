package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the korthops version, the Flux version it installs and the Kubernetes schema version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			korthopsVersion, fluxVersion := "(devel)", "unknown"
			if info, ok := debug.ReadBuildInfo(); ok {
				if v := info.Main.Version; v != "" {
					korthopsVersion = v
				}
				for _, dep := range info.Deps {
					if dep.Path == "github.com/fluxcd/flux2/v2" {
						fluxVersion = dep.Version
					}
				}
			}
			fmt.Fprintf(c.stdout, "korthops: %s\nflux: %s\nkubernetes schemas: %s\n", korthopsVersion, fluxVersion, kubernetesSchemaVersion())
			return nil
		},
	}
}
