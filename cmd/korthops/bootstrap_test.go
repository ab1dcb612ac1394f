package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/korthops/korthops/internal/gitserver"
	"github.com/korthops/korthops/internal/kube"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The user's path through the CLI: init, cluster add, push, bootstrap with a token from the
// environment, then status, which exits 1 until Flux reports Ready.
func TestBootstrapAndStatusCommands(t *testing.T) {
	env := kube.Start(t)
	git := gitserver.New(t, "flux", "tok-cli-8d1e")
	repo := filepath.Join(t.TempDir(), "fleet")
	for _, args := range [][]string{
		{"-C", repo, "init"},
		{"-C", repo, "cluster", "add", "site", "--provider", "azure", "--ingress", "traefik", "--domain", "site.example.org"},
	} {
		if code, _, errOut := korthops(t, args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	git.Publish(t, repo, "fleet.git")

	code, _, errOut := korthops(t, "-C", repo, "bootstrap", "--cluster", "site", "--username", "flux", "--token-env", "KORTHOPS_TEST_UNSET_TOKEN", "--kubeconfig", env.KubeConfig)
	if code != 2 || !strings.Contains(errOut, "KORTHOPS_TEST_UNSET_TOKEN") {
		t.Fatalf("bootstrap without the token variable: exit %d %s", code, errOut)
	}
	t.Setenv("KORTHOPS_TEST_TOKEN", "tok-cli-8d1e")
	code, out, errOut := korthops(t, "-C", repo, "bootstrap", "--cluster", "site", "--username", "flux", "--token-env", "KORTHOPS_TEST_TOKEN",
		"--allow-insecure-http", "--kubeconfig", env.KubeConfig, "--wait=false")
	if code != 0 {
		t.Fatalf("bootstrap: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "tok-cli-8d1e") {
		t.Error("the token appears in the output")
	}
	for _, want := range []string{"validates", "installed components", "created secret orthanc/postgresql-auth", "bootstrap finished"} {
		if !strings.Contains(out, want) {
			t.Errorf("bootstrap output has no %q:\n%s", want, out)
		}
	}

	code, out, _ = korthops(t, "status", "--kubeconfig", env.KubeConfig)
	if code != 1 || !strings.Contains(out, "GitRepository") || !strings.Contains(out, "flux-system") {
		t.Fatalf("status before Flux reconciles: exit %d\n%s", code, out)
	}

	markReady(t, env, "main@sha1:0123456789abcdef0123456789abcdef01234567")
	code, out, _ = korthops(t, "status", "--kubeconfig", env.KubeConfig, "-o", "json")
	var objects []struct{ Kind, Name, Ready, Revision string }
	if err := json.Unmarshal([]byte(out), &objects); err != nil || code != 0 || len(objects) != 2 {
		t.Fatalf("status when Ready: exit %d %v\n%s", code, err, out)
	}
	for _, o := range objects {
		if o.Ready != "True" || !strings.HasPrefix(o.Revision, "main@sha1:") {
			t.Errorf("status: %+v", o)
		}
	}
}

// markReady sets the Ready condition of every GitRepository and Kustomization as Flux's
// controllers do.
func markReady(t *testing.T, env *kube.Env, revision string) {
	t.Helper()
	s := runtime.NewScheme()
	_ = sourcev1.AddToScheme(s)
	_ = kustomizev1.AddToScheme(s)
	kc, err := client.New(env.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ready := func(gen int64) metav1.Condition {
		return metav1.Condition{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, Reason: meta.SucceededReason, Message: "ok", ObservedGeneration: gen}
	}
	var gits sourcev1.GitRepositoryList
	if err := kc.List(ctx, &gits); err != nil {
		t.Fatal(err)
	}
	for i := range gits.Items {
		g := &gits.Items[i]
		g.Status.Artifact = &meta.Artifact{Revision: revision, Path: "p", URL: "http://127.0.0.1/a", Digest: "sha256:00", LastUpdateTime: metav1.Now()}
		apimeta.SetStatusCondition(&g.Status.Conditions, ready(g.Generation))
		if err := kc.Status().Update(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	var kss kustomizev1.KustomizationList
	if err := kc.List(ctx, &kss); err != nil {
		t.Fatal(err)
	}
	for i := range kss.Items {
		k := &kss.Items[i]
		k.Status.LastAppliedRevision = revision
		apimeta.SetStatusCondition(&k.Status.Conditions, ready(k.Generation))
		if err := kc.Status().Update(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}
