package validate

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/korthops/korthops/internal/repotest"
	"github.com/korthops/korthops/layout"
)

// fleet is a korthops repository of three clusters committed with go-git.
func fleet(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fleet")
	repo, _, err := layout.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []layout.Settings{
		{Name: "onprem", Provider: layout.ProviderOnPrem, Ingress: layout.IngressIstio, Domain: "pacs.example.org"},
		{Name: "aws", Provider: layout.ProviderAWS, Ingress: layout.IngressIstio, Domain: "aws.example.org"},
		{Name: "azure", Provider: layout.ProviderAzure, Ingress: layout.IngressTraefik, Domain: "azure.example.org"},
	} {
		if _, err := repo.AddCluster(s, layout.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	repotest.Write(t, dir, "README.md", "# fleet\n")
	repotest.CommitAll(t, dir, "base")
	return dir
}

func TestChangedSince(t *testing.T) {
	tests := []struct {
		name     string
		change   func(t *testing.T, dir string)
		commit   bool
		want     []string
		findings int
	}{
		{"a base re-validates every cluster that uses it", func(t *testing.T, dir string) {
			repotest.Edit(t, dir, "apps/base/orthanc/deployment.yaml", "memory: 512Mi", "memory: 768Mi")
		}, true, []string{"aws", "azure", "onprem"}, 0},
		{"one overlay re-validates only its cluster", func(t *testing.T, dir string) {
			repotest.Edit(t, dir, "apps/overlays/aws/kustomization.yaml", "value: 2", "value: 3")
		}, false, []string{"aws"}, 0},
		{"an ingress component re-validates the clusters that use it", func(t *testing.T, dir string) {
			repotest.Edit(t, dir, "apps/components/traefik/tlsoption.yaml", "VersionTLS12", "VersionTLS11")
		}, true, []string{"azure"}, 0},
		{"a cluster's settings re-validate that cluster", func(t *testing.T, dir string) {
			repotest.Edit(t, dir, "clusters/onprem/cluster-settings.yaml", `CLUSTER_DOMAIN: "pacs.example.org"`, `CLUSTER_DOMAIN: "pacs2.example.org"`)
		}, false, []string{"onprem"}, 0},
		{"a change outside any root validates nothing", func(t *testing.T, dir string) {
			repotest.Write(t, dir, "README.md", "# fleet\n\nmore\n")
		}, true, nil, 0},
		{"a broken overlay is still caught", func(t *testing.T, dir string) {
			repotest.Edit(t, dir, "apps/overlays/azure/kustomization.yaml", "value: 2", "value: two")
		}, false, []string{"azure"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fleet(t)
			tt.change(t, dir)
			if tt.commit {
				repotest.CommitAll(t, dir, "change")
			}
			rep := validateDir(t, dir, Opts{ChangedSince: map[bool]string{true: "HEAD~1", false: "HEAD"}[tt.commit]})
			got := slices.Clone(rep.Clusters)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("validated %v, want %v", got, tt.want)
			}
			if len(rep.Clusters)+len(rep.Skipped) != 3 {
				t.Errorf("validated %v and skipped %+v: some cluster is unaccounted for", rep.Clusters, rep.Skipped)
			}
			for _, s := range rep.Skipped {
				if !strings.Contains(s.Reason, "no file it reads changed since") {
					t.Errorf("skip reason %q", s.Reason)
				}
			}
			if rep.Errors() != tt.findings {
				t.Errorf("findings %+v", rep.Findings)
			}
		})
	}
}

// A Kustomization that builds an ExternalArtifact reads, through its ArtifactGenerator, files
// that its own path does not name: a change to any of them re-validates the cluster.
func TestChangedSinceThroughArtifacts(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join("testdata", "artifacts"), dir)
	repotest.CommitAll(t, dir, "base")
	repotest.Edit(t, dir, "teams/backend/deployment.yaml", "image: ghcr.io/example/api:1.0.0", "image: ghcr.io/example/api:1.0.0\n          imagePullPolcy: Always")
	rep := validateDir(t, dir, Opts{ChangedSince: "HEAD"})
	if !slices.Equal(rep.Clusters, []string{"prod"}) || rep.Errors() != 1 {
		t.Errorf("validated %v (skipped %+v) with findings %+v", rep.Clusters, rep.Skipped, rep.Findings)
	}
}
