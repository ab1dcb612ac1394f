package kube

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Env is a running control plane: kube-apiserver and etcd on loopback.
type Env struct {
	// Config is an administrator's client configuration.
	Config *rest.Config
	// KubeConfig is the path of a kubeconfig file for the same administrator.
	KubeConfig string
}

// Start builds (once) and starts a control plane for one test, and stops it when the test ends,
// also when it fails.
func Start(t testing.TB) *Env {
	t.Helper()
	dir, err := BinaryDir()
	if err != nil {
		t.Fatalf("build control plane: %v", err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	// kube-apiserver 1.37 refuses a loopback advertise address with the default endpoint reconciler.
	env.ControlPlane.GetAPIServer().Configure().Set("endpoint-reconciler-type", "none")
	start := time.Now()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop control plane: %v", err)
		}
	})
	t.Logf("control plane up in %s at %s", time.Since(start).Round(time.Millisecond), cfg.Host)
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "korthops-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return &Env{Config: user.Config(), KubeConfig: path}
}
