package main

import (
	"fmt"
	"strings"

	"github.com/korthops/korthops/validate"
	"github.com/spf13/cobra"
)

type validateFlags struct {
	output               string
	kubernetesVersion    string
	schemaLocations      []string
	skipKinds            []string
	skipChecks           []string
	ignoreMissingSchemas bool
	cluster              string
	changedSince         string
}

func newValidateCmd(c *cli) *cobra.Command {
	var f validateFlags
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Build every cluster and kustomization root like Flux and validate every resource, offline",
		Long: "validate builds each cluster entry point and every Flux Kustomization it reaches (generator, patches,\n" +
			"postBuild substitution), then every other kustomization root, validates each resource with kubeconform\n" +
			"against the embedded schema catalog, and runs cross-reference checks. Exit 0: valid; 1: findings; 2: error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := validate.ParseFormat(f.output)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			v, err := validate.New(validate.Opts{
				KubernetesVersion:    f.kubernetesVersion,
				SchemaLocations:      f.schemaLocations,
				SkipKinds:            f.skipKinds,
				SkipChecks:           f.skipChecks,
				IgnoreMissingSchemas: f.ignoreMissingSchemas,
				Cluster:              f.cluster,
				ChangedSince:         f.changedSince,
			})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			report, err := v.Validate(cmd.Context(), c.global.repo)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := report.Write(c.stdout, format, c.color()); err != nil {
				return &exitError{code: 2, err: err}
			}
			if !report.Valid() {
				return &exitError{code: 1, err: silentError{fmt.Errorf("%d finding(s)", report.Errors())}}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&f.output, "output", "o", "text", "output format: "+strings.Join(validate.Formats(), "|"))
	cmd.Flags().StringVar(&f.kubernetesVersion, "kubernetes-version", "", "Kubernetes version of the core schemas (default: newest in the catalog; also "+strings.Join(validate.KubernetesVersions(), ", ")+")")
	cmd.Flags().StringArrayVar(&f.schemaLocations, "schema-location", nil, "extra kubeconform schema location (path template), searched after the repository CRDs and the catalog")
	cmd.Flags().StringSliceVar(&f.skipKinds, "skip-kinds", nil, "kinds not validated against a schema")
	cmd.Flags().StringSliceVar(&f.skipChecks, "skip-check", nil, "check IDs to silence everywhere (per resource: annotation "+validate.IgnoreAnnotation+")")
	cmd.Flags().BoolVar(&f.ignoreMissingSchemas, "ignore-missing-schemas", false, "skip kinds without a schema instead of reporting them")
	cmd.Flags().StringVar(&f.cluster, "cluster", "", "validate one cluster entry point only")
	cmd.Flags().StringVar(&f.changedSince, "changed-since", "", "validate only what files changed since this git revision can affect (e.g. origin/main)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(validate.Formats(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("cluster", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		names, _ := validate.Clusters(c.global.repo)
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}
