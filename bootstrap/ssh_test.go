package bootstrap

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Bootstrap over SSH with a private key and known_hosts checking, the transport most teams use.
func TestBootstrapOverSSH(t *testing.T) {
	f := newFixture(t)
	sshd := f.git.ServeSSH(t)
	ctx := context.Background()

	// A known_hosts that does not list the server's key stops the clone, before any push.
	wrong := filepath.Join(t.TempDir(), "known_hosts")
	other := f.git.ServeSSH(t) // another server, another host key
	data, err := os.ReadFile(other.KnownHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	hostPort := strings.TrimPrefix(strings.SplitN(string(data), " ", 2)[0], "")
	if err := os.WriteFile(wrong, []byte(strings.Replace(string(data), hostPort, "["+strings.Replace(sshd.Addr, ":", "]:", 1), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	head := f.remoteHead(t)
	o := f.options()
	o.URL, o.Username, o.Password = sshd.URL("fleet.git"), "", ""
	o.PrivateKeyFile, o.KnownHostsFile = sshd.ClientKeyFile, wrong
	if err := Run(ctx, o); err == nil || !strings.Contains(strings.ToLower(err.Error()), "host key") {
		t.Errorf("wrong known_hosts: %v", err)
	}
	if f.remoteHead(t) != head {
		t.Error("pushed despite an unknown host key")
	}

	o.KnownHostsFile = sshd.KnownHostsFile
	f.out.Reset()
	if err := Run(ctx, o); err != nil {
		t.Fatalf("bootstrap over SSH: %v\n%s", err, f.out.String())
	}
	if f.remoteHead(t) == head || !strings.Contains(f.remoteFiles(t), "clusters/e2e/flux-system/gotk-sync.yaml") {
		t.Error("nothing pushed over SSH")
	}
	var repo sourcev1.GitRepository
	if err := f.kube.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "flux-system"}, &repo); err != nil {
		t.Fatal(err)
	}
	if repo.Spec.URL != sshd.URL("fleet.git") {
		t.Errorf("GitRepository URL %s, want the SSH URL", repo.Spec.URL)
	}
	secret := f.secretData(t, "flux-system", "flux-system")
	key, _ := os.ReadFile(sshd.ClientKeyFile)
	if string(secret["identity"]) != string(key) || len(secret["known_hosts"]) == 0 {
		t.Errorf("SSH credentials secret has keys %v", keys(secret))
	}
	if strings.Contains(f.out.String(), "PRIVATE KEY") || strings.Contains(f.history(t), "PRIVATE KEY") {
		t.Error("the private key appears in the output or in git")
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
