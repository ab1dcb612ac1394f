package layout

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// canonicalClusters are the clusters checked in at the repository root, as the README adds them.
var canonicalClusters = []Settings{
	{Name: "onprem", Provider: ProviderOnPrem, Ingress: IngressIstio, Domain: "pacs.example.org"},
	{Name: "aws", Provider: ProviderAWS, Ingress: IngressIstio, Domain: "aws.pacs.example.org"},
	{Name: "azure", Provider: ProviderAzure, Ingress: IngressTraefik, Domain: "azure.pacs.example.org", Replicas: 3},
	{Name: "gcp", Provider: ProviderGCP, Ingress: IngressIstio, Domain: "gcp.pacs.example.org"},
}

// snapshot reads every file under dir, keyed by slash path.
func snapshot(t *testing.T, dir string, only ...string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		wanted := len(only) == 0 || slices.ContainsFunc(only, func(o string) bool {
			return rel == o || strings.HasPrefix(rel, o+"/")
		})
		if d.IsDir() {
			if rel != "." && !wanted {
				return filepath.SkipDir
			}
			return nil
		}
		if !wanted {
			return nil
		}
		data, err := os.ReadFile(p)
		files[rel] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func newRepo(t *testing.T) *Repo {
	t.Helper()
	r, _, err := Init(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	return r
}

func mustAdd(t *testing.T, r *Repo, s Settings, opts AddOptions) []Change {
	t.Helper()
	changes, err := r.AddCluster(s, opts)
	if err != nil {
		t.Fatalf("add %s: %v", s.Name, err)
	}
	return changes
}

func diffTrees(t *testing.T, want, got map[string]string) {
	t.Helper()
	for _, p := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[p]; !ok {
			t.Errorf("missing %s", p)
		} else if g != want[p] {
			t.Errorf("%s differs:\n--- want\n%s\n--- got\n%s", p, want[p], g)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected %s", p)
		}
	}
}

// The checked-in content is exactly what init + cluster add produce.
func TestCanonicalContentIsToolOutput(t *testing.T) {
	r := newRepo(t)
	for _, s := range canonicalClusters {
		mustAdd(t, r, s, AddOptions{})
	}
	folders := []string{clustersDir, infrastructureDir, appsDir}
	diffTrees(t, snapshot(t, "..", folders...), snapshot(t, r.Root(), folders...))

	root, err := Open("..")
	if err != nil {
		t.Fatal(err)
	}
	clusters, err := root.Clusters()
	if err != nil {
		t.Fatal(err)
	}
	if len(clusters) != len(canonicalClusters) {
		t.Fatalf("repository has %d clusters, want %d", len(clusters), len(canonicalClusters))
	}
	for _, want := range canonicalClusters {
		got, err := root.Cluster(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got.Settings != want.WithDefaults() {
			t.Errorf("cluster %s: settings read back %+v, want %+v", want.Name, got.Settings, want.WithDefaults())
		}
	}
}

func TestAddClusterTwiceIsByteIdentical(t *testing.T) {
	r := newRepo(t)
	s := canonicalClusters[2]
	mustAdd(t, r, s, AddOptions{})
	before := snapshot(t, r.Root())
	if changes := mustAdd(t, r, s, AddOptions{}); len(changes) != 0 {
		t.Errorf("second add changed %v", changes)
	}
	// Defaults spelled out are the same settings.
	explicit := s.WithDefaults()
	if changes := mustAdd(t, r, explicit, AddOptions{}); len(changes) != 0 {
		t.Errorf("add with explicit defaults changed %v", changes)
	}
	diffTrees(t, before, snapshot(t, r.Root()))
}

func TestBadInputWritesNothing(t *testing.T) {
	valid := Settings{Name: "onprem", Provider: ProviderOnPrem, Ingress: IngressIstio, Domain: "pacs.example.org"}
	tests := []struct {
		name    string
		edit    func(*Settings)
		wantErr string
	}{
		{"uppercase name", func(s *Settings) { s.Name = "OnPrem" }, "not a DNS-1123 label"},
		{"parent path", func(s *Settings) { s.Name = "../x" }, "not a DNS-1123 label"},
		{"absolute path", func(s *Settings) { s.Name = "/tmp/x" }, "not a DNS-1123 label"},
		{"empty name", func(s *Settings) { s.Name = "" }, "not a DNS-1123 label"},
		{"unknown provider", func(s *Settings) { s.Provider = "openstack" }, `provider "openstack"`},
		{"unknown ingress", func(s *Settings) { s.Ingress = "nginx" }, `ingress "nginx"`},
		{"domain with underscore", func(s *Settings) { s.Domain = "pacs_example.org" }, "not a valid DNS name"},
		{"domain single label", func(s *Settings) { s.Domain = "localhost" }, "not a valid DNS name"},
		{"domain uppercase", func(s *Settings) { s.Domain = "PACS.example.org" }, "not a valid DNS name"},
		{"empty domain", func(s *Settings) { s.Domain = "" }, "domain"},
		{"bad storage class", func(s *Settings) { s.StorageClass = "Fast SSD" }, "storage class"},
		{"negative replicas", func(s *Settings) { s.Replicas = -1 }, "replicas"},
		{"duplicate cluster", func(s *Settings) { s.Name = "taken"; s.Domain = "other.example.org" }, "already exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			mustAdd(t, r, Settings{Name: "taken", Provider: ProviderAWS, Ingress: IngressIstio, Domain: "taken.example.org"}, AddOptions{})
			before := snapshot(t, filepath.Dir(r.Root()))
			s := valid
			tt.edit(&s)
			_, err := r.AddCluster(s, AddOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			diffTrees(t, before, snapshot(t, filepath.Dir(r.Root())))
		})
	}
}

func TestForceChangesOnlyGeneratedFiles(t *testing.T) {
	r := newRepo(t)
	mustAdd(t, r, canonicalClusters[0], AddOptions{})
	mustAdd(t, r, canonicalClusters[1], AddOptions{})
	userFile := filepath.Join(r.ClusterDir("onprem"), "extra.yaml")
	if err := os.WriteFile(userFile, []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, r.Root())

	changed := canonicalClusters[0]
	changed.Ingress = IngressTraefik
	changed.Replicas = 4
	if _, err := r.AddCluster(changed, AddOptions{}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("changing settings without --force: error %v, want one naming --force", err)
	}
	diffTrees(t, before, snapshot(t, r.Root()))

	changes := mustAdd(t, r, changed, AddOptions{Force: true})
	after := snapshot(t, r.Root())
	generated, err := render(changed.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	for p := range after {
		if after[p] != before[p] {
			if _, ok := generated[p]; !ok {
				t.Errorf("--force changed %s, which korthops does not generate", p)
			}
		}
	}
	if len(changes) == 0 {
		t.Fatal("--force with new settings changed nothing")
	}
	got, err := r.Cluster("onprem")
	if err != nil {
		t.Fatal(err)
	}
	if got.Settings != changed.WithDefaults() {
		t.Errorf("settings read back %+v, want %+v", got.Settings, changed.WithDefaults())
	}
	if !strings.Contains(after["apps/overlays/onprem/kustomization.yaml"], "components/traefik") {
		t.Errorf("apps overlay does not use the traefik component:\n%s", after["apps/overlays/onprem/kustomization.yaml"])
	}
}

func TestEditedFileIsNeverOverwritten(t *testing.T) {
	r := newRepo(t)
	s := canonicalClusters[0]
	mustAdd(t, r, s, AddOptions{})
	overlay := filepath.Join(r.Root(), "apps", "overlays", "onprem", "kustomization.yaml")
	data, err := os.ReadFile(overlay)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(overlay, append(data, "# tuned by hand\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, r.Root())

	s.Replicas = 5
	_, err = r.AddCluster(s, AddOptions{Force: true})
	var edited *EditedError
	if !errors.As(err, &edited) || !slices.Equal(edited.Files, []string{"apps/overlays/onprem/kustomization.yaml"}) {
		t.Fatalf("error %v, want an EditedError naming the apps overlay", err)
	}
	diffTrees(t, before, snapshot(t, r.Root()))

	if _, err := r.RemoveCluster("onprem", false); !errors.As(err, &edited) {
		t.Fatalf("remove with an edited file: error %v, want EditedError", err)
	}
	diffTrees(t, before, snapshot(t, r.Root()))
}

func TestFailedWriteLeavesTreeAsItWas(t *testing.T) {
	for _, failAt := range []int{0, 2, 3} {
		r := newRepo(t)
		mustAdd(t, r, canonicalClusters[0], AddOptions{})
		before := snapshot(t, filepath.Dir(r.Root()))
		r.failCommitAt = func(i int) bool { return i == failAt }

		if _, err := r.AddCluster(canonicalClusters[3], AddOptions{}); err == nil {
			t.Fatalf("fail at %d: new cluster: no error", failAt)
		}
		diffTrees(t, before, snapshot(t, filepath.Dir(r.Root())))

		changed := canonicalClusters[0]
		changed.Ingress, changed.Domain = IngressTraefik, "changed.example.org"
		if _, err := r.AddCluster(changed, AddOptions{Force: true}); err == nil {
			t.Fatalf("fail at %d: changed cluster: no error", failAt)
		}
		diffTrees(t, before, snapshot(t, filepath.Dir(r.Root())))
	}
}

func TestInitRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Init(dir); err == nil || !strings.Contains(err.Error(), "not a korthops repository") {
		t.Fatalf("init into a foreign directory: error %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("init wrote into a foreign directory: %d entries", len(entries))
	}
	// Re-running init on a korthops repository is a no-op.
	r := newRepo(t)
	before := snapshot(t, r.Root())
	if _, changes, err := Init(r.Root()); err != nil || len(changes) != 0 {
		t.Fatalf("second init: changes %v, error %v", changes, err)
	}
	diffTrees(t, before, snapshot(t, r.Root()))
}

func TestRemoveCluster(t *testing.T) {
	r := newRepo(t)
	initial := snapshot(t, r.Root())
	mustAdd(t, r, canonicalClusters[0], AddOptions{})
	changes, err := r.RemoveCluster("onprem", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 6 {
		t.Errorf("removed %d files, want 6", len(changes))
	}
	diffTrees(t, initial, snapshot(t, r.Root()))
	for _, d := range []string{r.ClusterDir("onprem"), filepath.Join(r.Root(), "apps", "overlays")} {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists after remove", d)
		}
	}
	if _, err := r.RemoveCluster("onprem", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing a missing cluster: error %v, want ErrNotFound", err)
	}

	mustAdd(t, r, canonicalClusters[0], AddOptions{})
	if err := os.MkdirAll(r.FluxSystemDir("onprem"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RemoveCluster("onprem", false); err == nil || !strings.Contains(err.Error(), "bootstrapped") {
		t.Errorf("removing a bootstrapped cluster: error %v", err)
	}
}
