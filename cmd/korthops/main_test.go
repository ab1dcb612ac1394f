package main

import (
	"os"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
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

func TestValidateExitCodes(t *testing.T) {
	repo := filepath.Join(t.TempDir(), "gitops")
	for _, args := range [][]string{
		{"-C", repo, "init"},
		{"-C", repo, "cluster", "add", "onprem", "--domain", "pacs.example.org"},
	} {
		if code, _, errOut := korthops(t, args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	code, out, _ := korthops(t, "-C", repo, "validate")
	if code != 0 || !strings.Contains(out, "valid: 1 cluster(s)") {
		t.Fatalf("validate a fresh repository: exit %d\n%s", code, out)
	}
	code, out, _ = korthops(t, "-C", repo, "validate", "-o", "github")
	if code != 0 || out != "" {
		t.Fatalf("github format on a valid repository: exit %d %q", code, out)
	}
	deployment := filepath.Join(repo, "apps", "base", "orthanc", "deployment.yaml")
	data, err := os.ReadFile(deployment)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(deployment, []byte(strings.Replace(string(data), "containerPort: 8042", "containerPort: http", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := korthops(t, "-C", repo, "validate")
	if code != 1 || !strings.Contains(out, "apps/base/orthanc/deployment.yaml:") || errOut != "" {
		t.Fatalf("validate a broken repository: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, args := range [][]string{
		{"-C", repo, "validate", "-o", "yaml"},
		{"-C", repo, "validate", "--kubernetes-version", "1.2"},
		{"-C", repo, "validate", "--cluster", "mars"},
		{"-C", filepath.Join(repo, "missing"), "validate"},
	} {
		if code, _, errOut := korthops(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with an error", args, code, errOut)
		}
	}
}

func TestSchemasCommands(t *testing.T) {
	code, out, _ := korthops(t, "schemas", "list")
	if code != 0 || !strings.Contains(out, "networking.istio.io/v1") || !strings.Contains(out, "apps/v1") {
		t.Fatalf("schemas list: exit %d\n%.500s", code, out)
	}
	dir := t.TempDir()
	code, out, _ = korthops(t, "schemas", "export", dir)
	if code != 0 || !strings.Contains(out, "-schema-location") {
		t.Fatalf("schemas export: exit %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "crds", "traefik.io", "ingressroutetcp_v1alpha1.json")); err != nil {
		t.Error(err)
	}
}

func TestBuildCommand(t *testing.T) {
	code, out, errOut := korthops(t, "-C", "../..", "build", "--cluster", "onprem")
	if code != 0 {
		t.Fatalf("build: exit %d %s", code, errOut)
	}
	// dependsOn order: the cluster entry point, then controllers, configs, apps.
	order := []string{"Kustomization flux-system/flux-system", "Kustomization flux-system/infra-controllers", "Kustomization flux-system/infra-configs", "Kustomization flux-system/apps"}
	last := -1
	for _, k := range order {
		i := strings.Index(out, k)
		if i < 0 || i < last {
			t.Fatalf("%q missing or out of order in build output", k)
		}
		last = i
	}
	if !strings.Contains(out, "- orthanc.pacs.example.org") {
		t.Error("postBuild substitution not applied in build output")
	}

	repo := filepath.Join(t.TempDir(), "r")
	for _, args := range [][]string{{"-C", repo, "init"}, {"-C", repo, "cluster", "add", "x", "--domain", "x.example.org"}} {
		if code, _, errOut := korthops(t, args...); code != 0 {
			t.Fatal(errOut)
		}
	}
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: orthanc\nstringData:\n  password: hunter2-plain\n"
	if err := os.WriteFile(filepath.Join(repo, "clusters", "x", "secret.yaml"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, _ = korthops(t, "-C", repo, "build", "--cluster", "x", "--kustomization", "flux-system")
	if strings.Contains(out, "hunter2-plain") || !strings.Contains(out, "password: '**redacted**'") {
		t.Errorf("secret not redacted:\n%s", out)
	}
	_, out, _ = korthops(t, "-C", repo, "build", "--cluster", "x", "--kustomization", "flux-system", "--show-secrets")
	if !strings.Contains(out, "hunter2-plain") {
		t.Error("--show-secrets did not show the secret")
	}
	if code, _, _ := korthops(t, "-C", repo, "build", "--cluster", "x", "--kustomization", "nope"); code != 2 {
		t.Errorf("unknown kustomization: exit %d", code)
	}

	// --ref builds the committed state, not the working tree.
	g, err := gogit.PlainInit(repo, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := g.Worktree()
	if err := wt.AddWithOptions(&gogit.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Commit("c", &gogit.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.org", When: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(repo, "clusters", "x", "secret.yaml")); err != nil {
		t.Fatal(err)
	}
	_, head, _ := korthops(t, "-C", repo, "build", "--cluster", "x", "--kustomization", "flux-system")
	_, atRef, _ := korthops(t, "-C", repo, "build", "--cluster", "x", "--kustomization", "flux-system", "--ref", "HEAD")
	if strings.Contains(head, "kind: Secret") || !strings.Contains(atRef, "kind: Secret") {
		t.Errorf("--ref HEAD did not build the committed tree")
	}
}

func TestImagesCommand(t *testing.T) {
	code, out, errOut := korthops(t, "-C", "../..", "images", "--cluster", "azure", "--registry", "mirror.example.org/fluxcd")
	if code != 0 || !strings.Contains(out, "mirror.example.org/fluxcd/kustomize-controller:v1.9.5\n") || !strings.Contains(out, "jodogne/orthanc-plugins:1.12.9\n") {
		t.Fatalf("images: exit %d\n%s", code, out)
	}
	if !strings.Contains(errOut, "azure/traefik/traefik") {
		t.Errorf("no note on unrendered charts: %s", errOut)
	}
}
