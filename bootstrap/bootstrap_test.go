package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/korthops/korthops/internal/gitserver"
	"github.com/korthops/korthops/internal/kube"
	"github.com/korthops/korthops/layout"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	gitUser  = "korthops"
	gitToken = "tok-3f9c2b7e1d"
)

// fixture is a korthops repository pushed to a loopback git server, and an empty cluster.
type fixture struct {
	env     *kube.Env
	kube    client.Client
	git     *gitserver.Server
	remote  string
	repoDir string
	out     bytes.Buffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{env: kube.Start(t), git: gitserver.New(t, gitUser, gitToken)}
	var err error
	if f.kube, err = client.New(f.env.Config, client.Options{Scheme: newScheme()}); err != nil {
		t.Fatal(err)
	}
	f.repoDir = filepath.Join(t.TempDir(), "fleet")
	repo, _, err := layout.Init(f.repoDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.AddCluster(layout.Settings{Name: "e2e", Provider: layout.ProviderOnPrem, Ingress: layout.IngressIstio, Domain: "pacs.example.org"}, layout.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	f.remote = f.git.Publish(t, f.repoDir, "fleet.git")
	return f
}

func (f *fixture) options() Options {
	return Options{
		RepoDir: f.repoDir, Cluster: "e2e", Username: gitUser, Password: gitToken, AllowInsecureHTTP: true,
		KubeConfig: f.env.KubeConfig, Timeout: time.Minute, Out: &f.out,
	}
}

// remoteHead is the commit of main in the bare repository, read with git itself.
func (f *fixture) remoteHead(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "-C", f.git.Dir("fleet.git"), "rev-parse", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// remoteFiles lists the files of main in the bare repository.
func (f *fixture) remoteFiles(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "-C", f.git.Dir("fleet.git"), "ls-tree", "-r", "--name-only", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// history is every blob of every commit of the remote, to look for leaked secrets.
func (f *fixture) history(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "-C", f.git.Dir("fleet.git"), "log", "-p", "--all", "--format=%H %an %s%n%b").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// versions records the resourceVersion of every object bootstrap creates.
func (f *fixture) versions(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	lists := map[string]client.ObjectList{
		"crd": &apiextensionsv1.CustomResourceDefinitionList{}, "deploy": &appsv1.DeploymentList{},
		"secret": &corev1.SecretList{}, "git": &sourcev1.GitRepositoryList{}, "ks": &kustomizev1.KustomizationList{},
		"ns": &corev1.NamespaceList{},
	}
	for kind, l := range lists {
		if err := f.kube.List(ctx, l); err != nil {
			if apimeta.IsNoMatchError(err) {
				continue // Flux's CRDs are not installed (yet)
			}
			t.Fatal(err)
		}
		items, _ := apimeta.ExtractList(l)
		for _, it := range items {
			o := it.(client.Object)
			out[kind+"/"+o.GetNamespace()+"/"+o.GetName()] = o.GetResourceVersion()
		}
	}
	return out
}

func (f *fixture) secretData(t *testing.T, ns, name string) map[string][]byte {
	t.Helper()
	var s corev1.Secret
	if err := f.kube.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
		t.Fatalf("secret %s/%s: %v", ns, name, err)
	}
	return s.Data
}

func TestBootstrapEmptyRemoteAndCluster(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before := f.remoteHead(t)
	start := time.Now()
	if err := Run(ctx, f.options()); err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, f.out.String())
	}
	t.Logf("bootstrap took %s", time.Since(start).Round(time.Millisecond))

	if f.remoteHead(t) == before {
		t.Fatal("bootstrap pushed nothing")
	}
	files := f.remoteFiles(t)
	for _, want := range []string{"clusters/e2e/flux-system/gotk-components.yaml", "clusters/e2e/flux-system/gotk-sync.yaml", "clusters/e2e/flux-system/kustomization.yaml"} {
		if !strings.Contains(files, want) {
			t.Errorf("remote has no %s:\n%s", want, files)
		}
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := f.kube.Get(ctx, client.ObjectKey{Name: "kustomizations.kustomize.toolkit.fluxcd.io"}, &crd); err != nil {
		t.Fatal(err)
	}
	established := false
	for _, c := range crd.Status.Conditions {
		established = established || c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
	}
	if !established {
		t.Error("Flux CRDs are not established")
	}
	for _, name := range []string{"source-controller", "kustomize-controller", "helm-controller", "notification-controller"} {
		var d appsv1.Deployment
		if err := f.kube.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: name}, &d); err != nil {
			t.Errorf("deployment %s: %v", name, err)
		}
	}
	var repo sourcev1.GitRepository
	if err := f.kube.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "flux-system"}, &repo); err != nil {
		t.Fatal(err)
	}
	if repo.Spec.URL != f.remote || repo.Spec.Reference.Branch != "main" {
		t.Errorf("GitRepository points at %s %+v", repo.Spec.URL, repo.Spec.Reference)
	}
	var ks kustomizev1.Kustomization
	if err := f.kube.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "flux-system"}, &ks); err != nil {
		t.Fatal(err)
	}
	if ks.Spec.Path != "clusters/e2e" && ks.Spec.Path != "./clusters/e2e" {
		t.Errorf("flux-system Kustomization path %q", ks.Spec.Path)
	}
	if cred := f.secretData(t, "flux-system", "flux-system"); string(cred["username"]) != gitUser || string(cred["password"]) != gitToken {
		t.Errorf("git credentials secret holds %v", cred)
	}
	for _, s := range appSecrets() {
		data := f.secretData(t, s.namespace, s.name)
		for _, k := range s.keys {
			if len(data[k]) < 24 {
				t.Errorf("secret %s/%s key %s: %q is not a random password", s.namespace, s.name, k, data[k])
			}
		}
	}
	// No secret value in git or in the output.
	history, output := f.history(t), f.out.String()
	secrets := []string{gitToken}
	for _, s := range appSecrets() {
		for _, k := range s.keys {
			secrets = append(secrets, string(f.secretData(t, s.namespace, s.name)[k]))
		}
	}
	for _, secret := range secrets {
		if strings.Contains(history, secret) || strings.Contains(output, secret) {
			t.Errorf("a secret value appears in the git history or the output")
		}
	}

	// A second run is a no-op: same HEAD, no object changed.
	head, rvs := f.remoteHead(t), f.versions(t)
	f.out.Reset()
	if err := Run(ctx, f.options()); err != nil {
		t.Fatalf("second bootstrap: %v\n%s", err, f.out.String())
	}
	if f.remoteHead(t) != head {
		t.Error("second bootstrap made a commit")
	}
	after := f.versions(t)
	for k, v := range rvs {
		if after[k] != v {
			t.Errorf("second bootstrap changed %s (resourceVersion %s -> %s)", k, v, after[k])
		}
	}
}

// A run killed after any step, then run again, ends as an uninterrupted run, and keeps the
// credentials the first run created.
func TestBootstrapResumesAfterEachStep(t *testing.T) {
	for _, step := range []Step{StepValidate, StepPreflight, StepComponents, StepSecrets, StepSync} {
		t.Run(stepName(step), func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			o := f.options()
			o.stopAfter = step
			if err := Run(ctx, o); !errors.Is(err, errStopped) {
				t.Fatalf("run stopped after %s: %v", stepName(step), err)
			}
			var kept map[string][]byte
			if step >= StepSecrets {
				kept = f.secretData(t, "orthanc", "postgresql-auth")
			}
			if err := Run(ctx, f.options()); err != nil {
				t.Fatalf("resumed run: %v\n%s", err, f.out.String())
			}
			files := f.remoteFiles(t)
			if !strings.Contains(files, "clusters/e2e/flux-system/gotk-sync.yaml") || !strings.Contains(files, "clusters/e2e/flux-system/gotk-components.yaml") {
				t.Errorf("remote after resume:\n%s", files)
			}
			var ks kustomizev1.Kustomization
			if err := f.kube.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "flux-system"}, &ks); err != nil {
				t.Fatal(err)
			}
			if kept != nil && !bytes.Equal(f.secretData(t, "orthanc", "postgresql-auth")["password"], kept["password"]) {
				t.Error("the resumed run rotated a credential")
			}
		})
	}
}

func stepName(s Step) string {
	return map[Step]string{StepValidate: "validate", StepPreflight: "preflight", StepComponents: "components", StepSecrets: "secrets", StepSync: "sync", StepWait: "wait"}[s]
}

// The readiness wait ends when the flux-system GitRepository and Kustomization report Ready, the
// way source-controller and kustomize-controller set it.
func TestBootstrapWaitsForReadiness(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
			var repo sourcev1.GitRepository
			if f.kube.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "flux-system"}, &repo) != nil {
				continue
			}
			repo.Status.ObservedGeneration = repo.Generation
			repo.Status.Artifact = &meta.Artifact{Revision: "main@sha1:" + f.remoteHead(t), Path: "x", URL: "http://x", Digest: "sha256:00", LastUpdateTime: metav1.Now()}
			apimeta.SetStatusCondition(&repo.Status.Conditions, metav1.Condition{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, Reason: meta.SucceededReason, Message: "stored artifact", ObservedGeneration: repo.Generation})
			if f.kube.Status().Update(ctx, &repo) != nil {
				continue
			}
			var ks kustomizev1.Kustomization
			if f.kube.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "flux-system"}, &ks) != nil {
				continue
			}
			ks.Status.ObservedGeneration = ks.Generation
			ks.Status.LastAppliedRevision = repo.Status.Artifact.Revision
			ks.Status.LastAttemptedRevision = repo.Status.Artifact.Revision
			apimeta.SetStatusCondition(&ks.Status.Conditions, metav1.Condition{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, Reason: meta.ReconciliationSucceededReason, Message: "Applied revision", ObservedGeneration: ks.Generation})
			if f.kube.Status().Update(ctx, &ks) == nil {
				return
			}
		}
	}()
	o := f.options()
	o.Wait = true
	if err := Run(ctx, o); err != nil {
		t.Fatalf("bootstrap --wait: %v\n%s", err, f.out.String())
	}
	if !strings.Contains(f.out.String(), "bootstrap finished") {
		t.Errorf("output:\n%s", f.out.String())
	}
}

func TestBootstrapFailures(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	head := f.remoteHead(t)

	// Unreachable cluster: stops before any push.
	bad := filepath.Join(t.TempDir(), "kubeconfig")
	kc, err := clientcmd.LoadFromFile(f.env.KubeConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kc.Clusters {
		c.Server = "https://127.0.0.1:1" // nothing listens on port 1
	}
	if err := clientcmd.WriteToFile(*kc, bad); err != nil {
		t.Fatal(err)
	}
	o := f.options()
	o.KubeConfig = bad
	if err := Run(ctx, o); err == nil || !strings.Contains(err.Error(), "not reachable, nothing was pushed") {
		t.Errorf("unreachable cluster: %v", err)
	}
	if f.remoteHead(t) != head {
		t.Error("a bootstrap against an unreachable cluster pushed")
	}

	// Wrong credentials: a clear error that does not show the token.
	o = f.options()
	o.Password = "wrong-token-123"
	err = Run(ctx, o)
	if err == nil || strings.Contains(err.Error(), "wrong-token-123") || !strings.Contains(strings.ToLower(err.Error()), "auth") {
		t.Errorf("wrong credentials: %v", err)
	}

	// Rejected push: the branch moves between clone and push; korthops clones again and retries
	// once, never forces, and keeps the concurrent commit.
	f.git.BeforeNextPush(func() {
		other := filepath.Join(t.TempDir(), "other")
		for _, args := range [][]string{
			{"clone", "-q", f.git.Dir("fleet.git"), other},
			{"-C", other, "-c", "user.name=x", "-c", "user.email=x@example.org", "commit", "-q", "--allow-empty", "-m", "concurrent change"},
			{"-C", other, "push", "-q", "origin", "main"},
		} {
			if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
				t.Errorf("git %v: %v\n%s", args, err, out)
			}
		}
	})
	f.out.Reset()
	if err := Run(ctx, f.options()); err != nil {
		t.Fatalf("bootstrap after a rejected push: %v\n%s", err, f.out.String())
	}
	if !strings.Contains(f.out.String(), "push rejected, the branch moved") {
		t.Errorf("no retry reported:\n%s", f.out.String())
	}
	log, err := exec.Command("git", "-C", f.git.Dir("fleet.git"), "log", "--format=%s", "main").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "concurrent change") || !strings.Contains(string(log), "Add Flux") {
		t.Errorf("history after the retry:\n%s", log)
	}

	// Moving the branch at every push: stopped with a clear error, the other commits kept.
	var moveAgain func()
	moveAgain = func() {
		other := filepath.Join(t.TempDir(), "other")
		for _, args := range [][]string{
			{"clone", "-q", f.git.Dir("fleet.git"), other},
			{"-C", other, "-c", "user.name=x", "-c", "user.email=x@example.org", "commit", "-q", "--allow-empty", "-m", "busy branch"},
			{"-C", other, "push", "-q", "origin", "main"},
		} {
			if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
				t.Errorf("git %v: %v\n%s", args, err, out)
			}
		}
		f.git.BeforeNextPush(moveAgain)
	}
	f.git.BeforeNextPush(moveAgain)
	o = f.options()
	o.Registry = "registry.example.org/mirror/fluxcd" // a change, so there is something to push
	err = Run(ctx, o)
	f.git.BeforeNextPush(nil)
	if err == nil || !strings.Contains(err.Error(), "rejected because the branch moved") || !strings.Contains(err.Error(), "nothing was forced") {
		t.Errorf("branch moving at every push: %v", err)
	}
	if head, _ := exec.Command("git", "-C", f.git.Dir("fleet.git"), "log", "-1", "--format=%s", "main").Output(); strings.TrimSpace(string(head)) != "busy branch" {
		t.Errorf("remote head after a refused push: %q", head)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	head, rvs := f.remoteHead(t), f.versions(t)
	o := f.options()
	o.DryRun = true
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.out.String(), "would commit clusters/e2e/flux-system/gotk-components.yaml") {
		t.Errorf("dry run output:\n%s", f.out.String())
	}
	if f.remoteHead(t) != head || len(f.versions(t)) != len(rvs) {
		t.Error("dry run changed the remote or the cluster")
	}
}
