package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/korthops/korthops/validate"
	"github.com/spf13/cobra"
)

func newSchemasCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schemas",
		Short: "List or export the embedded schema catalog",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "Print the kinds and versions the catalog covers",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			schemas := validate.ListSchemas()
			w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KUBERNETES\tAPIVERSION\tKIND")
			for _, s := range schemas {
				k := s.Kubernetes
				if k == "" {
					k = "crd"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", k, s.APIVersion, s.Kind)
			}
			return w.Flush()
		},
	}, &cobra.Command{
		Use:   "export DIR",
		Short: "Write the catalog in kubeconform's file layout, for plain kubeconform",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := validate.ExportSchemas(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "schemas written to %s; use them with:\n  kubeconform -strict -kubernetes-version %s", args[0], validate.DefaultKubernetesVersion())
			for _, l := range validate.ExportLocations(args[0]) {
				fmt.Fprintf(c.stdout, " \\\n    -schema-location '%s'", l)
			}
			fmt.Fprintln(c.stdout)
			return nil
		},
	})
	return cmd
}
