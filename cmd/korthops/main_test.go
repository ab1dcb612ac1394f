package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// korthops runs the CLI in-process with its real packages and returns exit code, stdout, stderr.
func korthops(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	code := run(args, stdout, stderr)
	stdout.Close()
	stderr.Close()
	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())
	return code, string(out), string(errOut)
}

func TestNewUserFlow(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "gitops")
	steps := []struct {
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{[]string{"-C", repo, "init"}, 0, "wrote   apps/base/orthanc/deployment.yaml", ""},
		{[]string{"-C", repo, "cluster", "add", "onprem", "--domain", "pacs.example.org"}, 0, "wrote   clusters/onprem/cluster-settings.yaml", ""},
		{[]string{"-C", repo, "cluster", "add", "onprem", "--domain", "pacs.example.org"}, 0, "nothing to change", ""},
		{[]string{"-C", repo, "cluster", "add", "azure", "--provider", "azure", "--ingress", "traefik", "--domain", "azure.pacs.example.org"}, 0, "apps/overlays/azure/kustomization.yaml", ""},
		{[]string{"-C", repo, "cluster", "list"}, 0, "azure   azure     traefik  azure.pacs.example.org  managed-csi    2         false", ""},
		{[]string{"-C", repo, "cluster", "add", "../x", "--domain", "pacs.example.org"}, 1, "", `cluster name "../x" is not a DNS-1123 label`},
		{[]string{"-C", repo, "cluster", "add", "x", "--domain", "pacs.example.org", "--provider", "openstack"}, 1, "", `provider "openstack": must be one of aws, azure, gcp, onprem`},
		{[]string{"-C", repo, "cluster", "add", "x"}, 1, "", `required flag(s) "domain" not set`},
		{[]string{"-C", repo, "cluster", "add", "x", "--domain", "a.b", "--replicas", "two"}, 2, "", `invalid argument "two"`},
		{[]string{"-C", repo, "cluster", "add", "onprem", "--domain", "other.example.org"}, 1, "", "use --force"},
		{[]string{"-C", repo, "cluster", "remove", "azure"}, 0, "removed clusters/azure/apps.yaml", ""},
		{[]string{"-C", repo, "cluster", "list"}, 0, "onprem  onprem    istio    pacs.example.org  standard       1         false", ""},
		{[]string{"version"}, 0, "flux: ", ""},
		{[]string{"completion", "bash"}, 0, "bash completion", ""},
	}
	for _, s := range steps {
		code, out, errOut := korthops(t, s.args...)
		if code != s.wantCode || !strings.Contains(out, s.wantOut) || !strings.Contains(errOut, s.wantErr) {
			t.Fatalf("korthops %s: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout containing %q, stderr containing %q",
				strings.Join(s.args, " "), code, out, errOut, s.wantCode, s.wantOut, s.wantErr)
		}
	}
	code, out, _ := korthops(t, "-C", repo, "cluster", "list")
	if code != 0 || strings.Contains(out, "azure") {
		t.Errorf("removed cluster still listed:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour written to a file:\n%q", out)
	}
}

func TestInitRefusesNonEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := korthops(t, "-C", dir, "init")
	if code == 0 || !strings.Contains(errOut, "not a korthops repository") {
		t.Fatalf("init in a non-empty directory: exit %d, stderr %s", code, errOut)
	}
}
