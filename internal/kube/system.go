package kube

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// process is a server the harness started; it is stopped when the test ends.
type process struct {
	name string
	cmd  *exec.Cmd
	log  bytes.Buffer
	mu   sync.Mutex
	done chan struct{}
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

// Log is what the process printed.
func (p *process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func startProcess(t testing.TB, name, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- %s log (last 40 lines) ---\n%s", name, lastLines(p.Log(), 40))
		}
	})
	return p
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func loopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// FakeNode is the node kwok simulates; workloads scheduled on it run without containers.
const FakeNode = "kwok-node-0"

// StartSystem runs, against env, what a real cluster adds to the API server: kube-controller-manager,
// kube-scheduler and kwok with one simulated node (so Deployments become Available), and Flux's
// source-controller and kustomize-controller outside the cluster. Every process listens on
// loopback only and stops when the test ends.
func StartSystem(t testing.TB, env *Env) {
	t.Helper()
	bin, err := SystemBinaryDir()
	if err != nil {
		t.Fatalf("build system binaries: %v", err)
	}
	dir := t.TempDir()
	kc := []string{"--kubeconfig", env.KubeConfig}
	startProcess(t, "kube-controller-manager", filepath.Join(bin, "kube-controller-manager"), nil, append(kc,
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0", "--controllers=*",
		"--use-service-account-credentials=false", "--flex-volume-plugin-dir="+filepath.Join(dir, "flex"))...)
	startProcess(t, "kube-scheduler", filepath.Join(bin, "kube-scheduler"), nil, append(kc,
		"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0")...)
	stages, err := kwokStages()
	if err != nil {
		t.Fatal(err)
	}
	stagesFile := filepath.Join(dir, "kwok-stages.yaml")
	if err := os.WriteFile(stagesFile, stages, 0o644); err != nil {
		t.Fatal(err)
	}
	startProcess(t, "kwok", filepath.Join(bin, "kwok"), nil, append(kc, "--config="+stagesFile,
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake", "--node-ip=127.0.0.1", "--cidr=10.244.0.0/24",
		"--server-address=127.0.0.1:0")...)

	kube, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: FakeNode,
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		Labels:      map[string]string{"kubernetes.io/os": "linux", "kubernetes.io/hostname": FakeNode, "type": "kwok"}}}
	if err := kube.Create(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	// The API server taints every new node not-ready; the node-lifecycle controller lifts it
	// once kwok reports the node Ready.
	err = poll(2*time.Minute, func() error {
		var n corev1.Node
		if err := kube.Get(context.Background(), client.ObjectKey{Name: FakeNode}, &n); err != nil {
			return err
		}
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
		}
		if !ready || len(n.Spec.Taints) > 0 {
			return fmt.Errorf("node ready=%t taints=%v", ready, n.Spec.Taints)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("fake node: %v", err)
	}

	startFluxOnceInstalled(t, env, bin, dir)
}

// startFluxOnceInstalled starts source-controller and kustomize-controller as soon as Flux's CRDs
// are established (bootstrap installs them; the controllers refuse to start without them).
func startFluxOnceInstalled(t testing.TB, env *Env, bin, dir string) {
	kube, err := client.New(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
	})
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if crdsEstablished(kube, "gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io",
				"helmrepositories.source.toolkit.fluxcd.io", "buckets.source.toolkit.fluxcd.io", "ocirepositories.source.toolkit.fluxcd.io",
				"helmcharts.source.toolkit.fluxcd.io", "externalartifacts.source.toolkit.fluxcd.io") {
				startFlux(t, env, bin, dir)
				return
			}
		}
	}()
}

func crdsEstablished(kube client.Client, names ...string) bool {
	for _, n := range names {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		if err := kube.Get(context.Background(), client.ObjectKey{Name: n}, crd); err != nil {
			return false
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		ok := false
		for _, c := range conds {
			m, _ := c.(map[string]any)
			ok = ok || m["type"] == "Established" && m["status"] == "True"
		}
		if !ok {
			return false
		}
	}
	return true
}

func startFlux(t testing.TB, env *Env, bin, dir string) {
	// Any request for a non-loopback address goes to a closed loopback port and fails at once;
	// loopback addresses are never proxied.
	fluxEnv := []string{"KUBECONFIG=" + env.KubeConfig, "RUNTIME_NAMESPACE=flux-system",
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost"}
	storage := loopbackAddr(t)
	if err := os.MkdirAll(filepath.Join(dir, "artifacts"), 0o755); err != nil {
		t.Error(err)
		return
	}
	startProcess(t, "source-controller", filepath.Join(bin, "source-controller"), fluxEnv,
		"--watch-all-namespaces", "--metrics-addr="+loopbackAddr(t), "--health-addr="+loopbackAddr(t),
		"--storage-path="+filepath.Join(dir, "artifacts"), "--storage-addr="+storage, "--storage-adv-addr="+storage)
	// A new revision cancels a health check still waiting on the previous one, so a fix pushed
	// while Flux waits takes effect at once.
	startProcess(t, "kustomize-controller", filepath.Join(bin, "kustomize-controller"), fluxEnv,
		"--watch-all-namespaces", "--metrics-addr="+loopbackAddr(t), "--health-addr="+loopbackAddr(t),
		"--feature-gates=CancelHealthCheckOnNewRevision=true")
}

// kwokStages concatenates kwok's stock fast node, pod and volume stages from its Go module.
func kwokStages() ([]byte, error) {
	dir, err := ModuleDir("sigs.k8s.io/kwok", KwokVersion)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, pattern := range []string{"node/fast/*.yaml", "pod/fast/*.yaml", "volume/fast/*.yaml"} {
		files, _ := filepath.Glob(filepath.Join(dir, "kustomize", "stage", pattern))
		for _, f := range files {
			if filepath.Base(f) == "kustomization.yaml" || filepath.Base(f) == "storage-class.yaml" {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			out.WriteString("---\n")
			out.Write(data)
			out.WriteString("\n")
		}
	}
	return out.Bytes(), nil
}

func poll(timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return err
}
