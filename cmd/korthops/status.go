package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/korthops/korthops/bootstrap"
	"github.com/spf13/cobra"
)

func newStatusCmd(c *cli) *cobra.Command {
	var output, kubeconfig, kubeContext string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the Flux sources, Kustomizations and HelmReleases of a cluster; exit 1 while one is not Ready",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			objects, err := bootstrap.Status(cmd.Context(), kubeconfig, kubeContext)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			notReady := 0
			for _, o := range objects {
				if o.Ready != "True" {
					notReady++
				}
			}
			switch output {
			case "json":
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				if objects == nil {
					objects = []bootstrap.ObjectStatus{}
				}
				if err := enc.Encode(objects); err != nil {
					return err
				}
			case "table":
				w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "KIND\tNAMESPACE\tNAME\tREADY\tREVISION\tAGE\tMESSAGE")
				for _, o := range objects {
					ready := o.Ready
					if o.Suspended {
						ready += " (suspended)"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Kind, o.Namespace, o.Name, ready, o.Revision,
						time.Since(o.Created).Round(time.Second), o.Message)
				}
				if err := w.Flush(); err != nil {
					return err
				}
			default:
				return &exitError{code: 2, err: fmt.Errorf("output format %q: must be table or json", output)}
			}
			if notReady > 0 {
				return &exitError{code: 1, err: silentError{fmt.Errorf("%d Flux object(s) not Ready", notReady)}}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table|json")
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
	cmd.Flags().StringVar(&kubeContext, "context", "", "kubeconfig context (use the cluster's context)")
	cmd.Flags().String("cluster", "", "cluster name, for messages; the kubeconfig context selects the cluster")
	return cmd
}
