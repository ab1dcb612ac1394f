package main

import (
	"fmt"
	"os"

	"github.com/korthops/korthops/layout"
	"github.com/korthops/korthops/validate"
	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

func newBuildCmd(c *cli) *cobra.Command {
	var cluster, kustomization, ref string
	var showSecrets bool
	cmd := &cobra.Command{
		Use:   "build --cluster NAME",
		Short: "Print the manifests Flux would apply to a cluster, in dependsOn order, offline",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := validate.New(validate.Opts{Cluster: cluster})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			dir := c.global.repo
			if ref != "" {
				// The repository as it was at ref, from git's object store: the working tree is untouched.
				repo, err := layout.Open(c.global.repo)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				if dir, err = os.MkdirTemp("", "korthops-build-"); err != nil {
					return &exitError{code: 2, err: err}
				}
				defer os.RemoveAll(dir)
				if err := repo.ExportRevision(ref, dir); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			rendered, err := v.Render(cmd.Context(), dir)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			found := kustomization == ""
			for _, rc := range rendered {
				for _, ks := range rc.Kustomizations {
					if kustomization != "" && ks.Name != kustomization && ks.Namespace+"/"+ks.Name != kustomization {
						continue
					}
					found = true
					for _, o := range ks.Objects {
						var data []byte
						if o.Kind == "Secret" && o.APIVersion == "v1" && !showSecrets {
							data, err = yaml.Marshal(validate.RedactSecret(o.Map))
						} else {
							data, err = o.YAML()
						}
						if err != nil {
							return err
						}
						fmt.Fprintf(c.stdout, "---\n# cluster %s, Kustomization %s/%s (%s), from %s\n%s", rc.Cluster, ks.Namespace, ks.Name, ks.Path, o.File, data)
					}
				}
				for _, f := range rc.Findings {
					fmt.Fprintf(c.stderr, "%s: [%s] %s\n", f.Location(), f.Check, f.Message)
				}
			}
			if !found {
				return &exitError{code: 2, err: fmt.Errorf("no Flux Kustomization %q in cluster %q", kustomization, cluster)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cluster, "cluster", "", "cluster to build")
	cmd.Flags().StringVar(&kustomization, "kustomization", "", "only this Flux Kustomization (NAME or NAMESPACE/NAME)")
	cmd.Flags().BoolVar(&showSecrets, "show-secrets", false, "print Secret data instead of redacting it")
	cmd.Flags().StringVar(&ref, "ref", "", "build the repository as it was at this git revision (read from the object store)")
	_ = cmd.MarkFlagRequired("cluster")
	return cmd
}
