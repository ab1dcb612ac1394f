package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/korthops/korthops/layout"
	"github.com/spf13/cobra"
)

func newClusterCmd(c *cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Add, list and remove the clusters of the repository",
	}
	cmd.AddCommand(newClusterAddCmd(c), newClusterListCmd(c), newClusterRemoveCmd(c))
	return cmd
}

type clusterAddFlags struct {
	provider     string
	ingress      string
	domain       string
	storageClass string
	replicas     int
	force        bool
}

func newClusterAddCmd(c *cli) *cobra.Command {
	var f clusterAddFlags
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Scaffold a cluster's Flux entry point and overlays",
		Example: "  korthops cluster add onprem --provider onprem --ingress istio --domain pacs.example.org\n" +
			"  korthops cluster add azure --provider azure --ingress traefik --domain azure.pacs.example.org --replicas 3",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := layout.Open(c.global.repo)
			if err != nil {
				return err
			}
			changes, err := repo.AddCluster(layout.Settings{
				Name: args[0], Provider: f.provider, Ingress: f.ingress, Domain: f.domain,
				StorageClass: f.storageClass, Replicas: f.replicas,
			}, layout.AddOptions{Force: f.force})
			if err != nil {
				return err
			}
			printChanges(c, changes)
			return nil
		},
	}
	cmd.Flags().StringVar(&f.provider, "provider", layout.ProviderOnPrem, "infrastructure: "+strings.Join(layout.Providers(), "|"))
	cmd.Flags().StringVar(&f.ingress, "ingress", layout.IngressIstio, "ingress controller: "+strings.Join(layout.Ingresses(), "|"))
	cmd.Flags().StringVar(&f.domain, "domain", "", "DNS domain; Orthanc answers on orthanc.DOMAIN (HTTPS) and dicom.DOMAIN:11112 (DICOM TLS)")
	cmd.Flags().StringVar(&f.storageClass, "storage-class", "", "storage class for PostgreSQL and Prometheus (default: per provider)")
	cmd.Flags().IntVar(&f.replicas, "replicas", 0, "Orthanc replicas (default: 1 on-premise, 2 in clouds)")
	cmd.Flags().BoolVar(&f.force, "force", false, "change the settings of an existing cluster")
	_ = cmd.MarkFlagRequired("domain")
	_ = cmd.RegisterFlagCompletionFunc("provider", cobra.FixedCompletions(layout.Providers(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("ingress", cobra.FixedCompletions(layout.Ingresses(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newClusterListCmd(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the clusters with the settings read from the repository",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := layout.Open(c.global.repo)
			if err != nil {
				return err
			}
			clusters, err := repo.Clusters()
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			header := "NAME\tPROVIDER\tINGRESS\tDOMAIN\tSTORAGE CLASS\tREPLICAS\tBOOTSTRAPPED"
			if c.color() {
				header = "\x1b[1m" + header + "\x1b[0m"
			}
			fmt.Fprintln(w, header)
			for _, cl := range clusters {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%t\n", cl.Name, cl.Provider, cl.Ingress, cl.Domain, cl.StorageClass, cl.Replicas, cl.Bootstrapped)
			}
			return w.Flush()
		},
	}
}

func newClusterRemoveCmd(c *cli) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Delete the files korthops generated for a cluster",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, err := layout.Open(c.global.repo)
			if err != nil {
				return err
			}
			changes, err := repo.RemoveCluster(args[0], force)
			if err != nil {
				return err
			}
			printChanges(c, changes)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "also remove files edited by hand, and bootstrapped clusters")
	return cmd
}
