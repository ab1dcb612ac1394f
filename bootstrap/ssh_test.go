package bootstrap

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
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
	known, _ := os.ReadFile(sshd.KnownHostsFile)
	if string(secret["identity"]) != string(key) || string(secret["known_hosts"]) != string(known) {
		t.Errorf("SSH credentials secret has keys %v; known_hosts must be the verified file", keys(secret))
	}
	// A second run over SSH changes nothing either.
	head, rvs := f.remoteHead(t), f.versions(t)
	if err := Run(ctx, o); err != nil {
		t.Fatalf("second bootstrap over SSH: %v", err)
	}
	after := f.versions(t)
	for k, v := range rvs {
		if after[k] != v {
			t.Errorf("second bootstrap over SSH changed %s", k)
		}
	}
	if f.remoteHead(t) != head {
		t.Error("second bootstrap over SSH made a commit")
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

// Without --private-key-file, bootstrap pushes with the ssh-agent's key and gives Flux a deploy
// key of its own, printing its public half.
func TestBootstrapOverSSHWithAgent(t *testing.T) {
	f := newFixture(t)
	sshd := f.git.ServeSSH(t)
	pem, err := os.ReadFile(sshd.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.ParseRawPrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: key}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); agent.ServeAgent(keyring, c) }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", sock)
	t.Setenv("SSH_KNOWN_HOSTS", sshd.KnownHostsFile)

	o := f.options()
	o.URL, o.Username, o.Password = sshd.URL("fleet.git"), "", ""
	if err := Run(context.Background(), o); err != nil {
		t.Fatalf("bootstrap with the ssh-agent: %v\n%s", err, f.out.String())
	}
	if !strings.Contains(f.remoteFiles(t), "clusters/e2e/flux-system/gotk-sync.yaml") {
		t.Error("nothing pushed with the agent's key")
	}
	secret := f.secretData(t, "flux-system", "flux-system")
	if len(secret["identity"]) == 0 || string(secret["identity"]) == string(pem) {
		t.Error("Flux did not get a deploy key of its own")
	}
	if !strings.Contains(f.out.String(), "deploy key") || !strings.Contains(f.out.String(), strings.TrimSpace(string(secret["identity.pub"]))) {
		t.Errorf("the deploy key is not printed:\n%s", f.out.String())
	}
}
