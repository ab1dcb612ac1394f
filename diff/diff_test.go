package diff

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/korthops/korthops/internal/repotest"
	"github.com/korthops/korthops/layout"
	"github.com/korthops/korthops/validate"
)

var clusters = []layout.Settings{
	{Name: "onprem", Provider: layout.ProviderOnPrem, Ingress: layout.IngressIstio, Domain: "pacs.example.org"},
	{Name: "aws", Provider: layout.ProviderAWS, Ingress: layout.IngressIstio, Domain: "aws.pacs.example.org"},
	{Name: "azure", Provider: layout.ProviderAzure, Ingress: layout.IngressTraefik, Domain: "azure.pacs.example.org", Replicas: 3},
	{Name: "gcp", Provider: layout.ProviderGCP, Ingress: layout.IngressIstio, Domain: "gcp.pacs.example.org"},
}

// fleet is the canonical four clusters, committed with go-git.
func fleet(t *testing.T) (string, *layout.Repo) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fleet")
	repo, _, err := layout.Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range clusters {
		if _, err := repo.AddCluster(s, layout.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	repotest.CommitAll(t, dir, "base")
	return dir, repo
}

func run(t *testing.T, dir, base string) *Result {
	t.Helper()
	res, err := Run(context.Background(), dir, Opts{Base: base, Validate: validate.Opts{CacheDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func byName(res *Result) map[string]Cluster {
	out := map[string]Cluster{}
	for _, c := range res.Clusters {
		out[c.Name] = c
	}
	return out
}

// The sample change of the issue: Orthanc replicas raised on aws, and the Orthanc image changed in
// the base, in a commit made with go-git.
func TestDiffOfACommit(t *testing.T) {
	dir, repo := fleet(t)
	aws := clusters[1]
	aws.Replicas = 4
	if _, err := repo.AddCluster(aws, layout.AddOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	repotest.Edit(t, dir, "apps/base/orthanc/deployment.yaml", "jodogne/orthanc-plugins:1.12.9", "jodogne/orthanc-plugins:1.12.10")
	repotest.CommitAll(t, dir, "raise aws replicas, new Orthanc")

	res := run(t, dir, "HEAD~1")
	got := byName(res)
	if len(got) != 4 {
		t.Fatalf("clusters %v", res.Clusters)
	}
	for name, c := range got {
		if len(c.Added)+len(c.Removed) != 0 {
			t.Errorf("%s: added %v removed %v", name, c.Added, c.Removed)
		}
		var ids []string
		for _, r := range c.Changed {
			ids = append(ids, r.ID)
		}
		want := []string{"Deployment/orthanc/orthanc"}
		if name == "aws" {
			want = []string{"ConfigMap/flux-system/cluster-settings", "Deployment/orthanc/orthanc"}
		}
		if strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Errorf("%s: changed %v, want %v", name, ids, want)
			continue
		}
		deploy := c.Changed[len(c.Changed)-1].Diff
		if !strings.Contains(deploy, "-        image: jodogne/orthanc-plugins:1.12.9\n+        image: jodogne/orthanc-plugins:1.12.10") {
			t.Errorf("%s: deployment diff:\n%s", name, deploy)
		}
		if (name == "aws") != strings.Contains(deploy, "+  replicas: 4") {
			t.Errorf("%s: replicas in the diff:\n%s", name, deploy)
		}
	}
	var md bytes.Buffer
	if err := res.Write(&md, "markdown"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| aws | 0 | 2 | 0 |", "| onprem | 0 | 1 | 0 |", "<details><summary><b>aws</b>", "```diff"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown has no %q:\n%s", want, md.String())
		}
	}
	t.Logf("markdown for the sample change:\n%s", md.String())
	var decoded Result
	var js bytes.Buffer
	if err := res.Write(&js, "json"); err != nil || json.Unmarshal(js.Bytes(), &decoded) != nil || len(decoded.Clusters) != 4 {
		t.Errorf("json: %v %s", err, js.String())
	}
}

func TestDiffOfTheWorkingTree(t *testing.T) {
	dir, repo := fleet(t)

	// Reordering keys is no change.
	repotest.Edit(t, dir, "apps/base/orthanc/service.yaml", "  selector:\n    app.kubernetes.io/name: orthanc\n  ports:", "  ports:")
	repotest.Edit(t, dir, "apps/base/orthanc/service.yaml", "      targetPort: dicom\n", "      targetPort: dicom\n  selector:\n    app.kubernetes.io/name: orthanc\n")
	if res := run(t, dir, "HEAD"); res.HasChanges() || len(res.Clusters) != 4 {
		t.Errorf("a reordered map is a change: %+v", res.Clusters)
	}
	repotest.CommitAll(t, dir, "reorder")

	// An overlay change renders only that cluster; a new and a removed cluster show whole.
	repotest.Edit(t, dir, "apps/overlays/gcp/kustomization.yaml", "value: 2", "value: 5")
	if _, err := repo.RemoveCluster("onprem", false); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.AddCluster(layout.Settings{Name: "lab", Provider: layout.ProviderOnPrem, Ingress: layout.IngressTraefik, Domain: "lab.example.org"}, layout.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: extra\n  namespace: flux-system\nstringData:\n  token: s3cr3t-value\n"
	if err := os.WriteFile(filepath.Join(dir, "clusters", "lab", "extra-secret.yaml"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	res := run(t, dir, "HEAD")
	got := byName(res)
	if len(got["gcp"].Changed) != 1 || len(got["onprem"].Removed) == 0 || len(got["lab"].Added) == 0 {
		t.Errorf("gcp %+v\nonprem removed %d\nlab added %d", got["gcp"], len(got["onprem"].Removed), len(got["lab"].Added))
	}
	if strings.Join(res.Unaffected, ",") != "aws,azure" {
		t.Errorf("unaffected %v, want aws,azure", res.Unaffected)
	}
	var text bytes.Buffer
	if err := res.Write(&text, "text"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), "s3cr3t-value") || !strings.Contains(text.String(), "token: '**redacted**'") {
		t.Errorf("secret data not redacted:\n%s", text.String())
	}
}
