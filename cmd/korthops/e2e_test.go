package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
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
	"github.com/korthops/korthops/validate"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// testOnlyOverlay replaces the generated kustomization of the e2e cluster's entry point. No Helm
// chart can be downloaded here (and tests talk to loopback only), so no HelmRelease ever becomes
// Ready: the Flux Kustomizations that wait for their HelmReleases would never pass their health
// checks. The overlay relaxes exactly that: infra-controllers does not wait, apps checks the
// Orthanc Deployment instead of waiting for everything, and both suspend their HelmRepositories
// and HelmReleases so that source-controller never reaches for a chart repository on the
// internet. The content itself is unchanged.
const testOnlyOverlay = `# TEST ONLY: see cmd/korthops/e2e_test.go
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - cluster-settings.yaml
  - infrastructure.yaml
  - apps.yaml
  - flux-system
patches:
  - target:
      kind: Kustomization
      name: infra-controllers|apps
    patch: |-
      - op: replace
        path: /spec/wait
        value: false
      - op: add
        path: /spec/patches
        value:
          - target:
              kind: HelmRepository|HelmRelease
            patch: |-
              - op: add
                path: /spec/suspend
                value: true
  - target:
      kind: Kustomization
      name: apps
    patch: |-
      - op: add
        path: /spec/healthChecks
        value:
          - apiVersion: apps/v1
            kind: Deployment
            name: orthanc
            namespace: orthanc
`

// chartCRDs are the CRDs the Helm charts would install, installed from the controllers' Go modules
// (test-only: the charts cannot be downloaded here).
var chartCRDs = []struct{ module, version, glob string }{
	{"github.com/cert-manager/cert-manager", "v1.21.2", "deploy/crds/*.yaml"},
	{"istio.io/api", "v1.32.0", "kubernetes/customresourcedefinitions.gen.yaml"},
	{"github.com/prometheus-operator/prometheus-operator", "v0.85.0", "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"},
	{"github.com/traefik/traefik/v3", "v3.6.12", "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"},
}

func installChartCRDs(t *testing.T, kc client.Client) {
	t.Helper()
	ctx := context.Background()
	var names []string
	for _, src := range chartCRDs {
		dir, err := kube.ModuleDir(src.module, src.version)
		if err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, src.glob))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, doc := range bytes.Split(data, []byte("\n---")) {
				var crd apiextensionsv1.CustomResourceDefinition
				if err := yaml.Unmarshal(doc, &crd); err != nil || crd.Kind != "CustomResourceDefinition" {
					continue
				}
				if err := kc.Create(ctx, &crd); err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatalf("install CRD %s: %v", crd.Name, err)
				}
				names = append(names, crd.Name)
			}
		}
	}
	eventually(t, time.Minute, func() error {
		for _, n := range names {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := kc.Get(ctx, client.ObjectKey{Name: n}, &crd); err != nil {
				return err
			}
			established := false
			for _, c := range crd.Status.Conditions {
				established = established || c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
			}
			if !established {
				return fmt.Errorf("CRD %s not established", n)
			}
		}
		return nil
	})
}

func eventually(t *testing.T, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("not within %s: %v", timeout, err)
}

func e2eClient(t *testing.T, env *kube.Env) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apiextensionsv1.AddToScheme(s)
	_ = sourcev1.AddToScheme(s)
	_ = kustomizev1.AddToScheme(s)
	kc, err := client.New(env.Config, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	return kc
}

func readyKS(kc client.Client, name string) (*kustomizev1.Kustomization, error) {
	var ks kustomizev1.Kustomization
	if err := kc.Get(context.Background(), client.ObjectKey{Namespace: "flux-system", Name: name}, &ks); err != nil {
		return nil, err
	}
	c := apimeta.FindStatusCondition(ks.Status.Conditions, meta.ReadyCondition)
	if c == nil || c.Status != "True" {
		msg := "no Ready condition"
		if c != nil {
			msg = c.Message
		}
		return &ks, fmt.Errorf("Kustomization %s not Ready: %s", name, msg)
	}
	return &ks, nil
}

// reconcileNow asks a Flux object to reconcile, as `flux reconcile` does, retrying when the
// controllers updated the object meanwhile.
func reconcileNow(t *testing.T, kc client.Client, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := kc.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[meta.ReconcileRequestAnnotation] = time.Now().Format(time.RFC3339Nano)
		obj.SetAnnotations(ann)
		return kc.Update(ctx, obj)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The GitOps loop for real: korthops writes the content, real Flux controllers reconcile it into
// a real API server with a simulated node, and keep the cluster equal to git.
func TestGitOpsLoopWithRealFlux(t *testing.T) {
	for _, ingress := range []string{"istio", "traefik"} {
		t.Run(ingress, func(t *testing.T) { gitOpsLoop(t, ingress) })
	}
}

func gitOpsLoop(t *testing.T, ingress string) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("SKIPPED: git is not installed")
	}
	env := kube.Start(t)
	kube.StartSystem(t, env)
	kc := e2eClient(t, env)
	installChartCRDs(t, kc)
	git := gitserver.New(t, "flux", "tok-e2e-5a1f")
	repo := filepath.Join(t.TempDir(), "fleet")
	for _, args := range [][]string{
		{"-C", repo, "init"},
		{"-C", repo, "cluster", "add", "e2e", "--provider", "onprem", "--ingress", ingress, "--domain", "e2e.example.org"},
	} {
		if code, _, errOut := korthops(t, args...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	write := func(rel, content string) {
		p := filepath.Join(repo, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git.Publish(t, repo, "fleet.git")

	t.Setenv("E2E_GIT_TOKEN", "tok-e2e-5a1f")
	start := time.Now()
	code, out, errOut := korthops(t, "-C", repo, "bootstrap", "--cluster", "e2e", "--username", "flux", "--token-env", "E2E_GIT_TOKEN",
		"--allow-insecure-http", "--kubeconfig", env.KubeConfig, "--timeout", "3m")
	if code != 0 {
		t.Fatalf("bootstrap: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("bootstrap with real Flux took %s", time.Since(start).Round(time.Millisecond))

	// The test-only overlay goes in once bootstrap has written flux-system/.
	git.Pull(t, repo)
	write("clusters/e2e/kustomization.yaml", testOnlyOverlay)
	revision := "main@sha1:" + git.CommitPush(t, repo, "test-only overlay")
	var fluxRepo sourcev1.GitRepository
	fluxRepo.Namespace, fluxRepo.Name = "flux-system", "flux-system"
	reconcileNow(t, kc, &fluxRepo)

	// Every Flux Kustomization becomes Ready at the pushed revision.
	var kss map[string]*kustomizev1.Kustomization
	eventually(t, 3*time.Minute, func() error {
		kss = map[string]*kustomizev1.Kustomization{}
		for _, name := range []string{"flux-system", "infra-controllers", "infra-configs", "apps"} {
			ks, err := readyKS(kc, name)
			if ks != nil && ks.Status.LastAttemptedRevision != revision && ks.Status.LastAttemptedRevision != "" {
				// Retried failures wait out their retryInterval: ask again, as `flux reconcile` does.
				reconcileNow(t, kc, &kustomizev1.Kustomization{ObjectMeta: ks.ObjectMeta})
			}
			if err != nil {
				return err
			}
			if ks.Status.LastAppliedRevision != revision {
				return fmt.Errorf("%s applied %s, want %s", name, ks.Status.LastAppliedRevision, revision)
			}
			kss[name] = ks
		}
		return nil
	})
	var repoObj sourcev1.GitRepository
	if err := kc.Get(context.Background(), client.ObjectKey{Namespace: "flux-system", Name: "flux-system"}, &repoObj); err != nil || repoObj.Status.Artifact == nil || repoObj.Status.Artifact.Revision != revision {
		t.Fatalf("GitRepository at %+v: %v", repoObj.Status.Artifact, err)
	}
	// dependsOn order: each became Ready after the one it depends on.
	readyAt := func(name string) time.Time {
		return apimeta.FindStatusCondition(kss[name].Status.Conditions, meta.ReadyCondition).LastTransitionTime.Time
	}
	if readyAt("infra-configs").Before(readyAt("infra-controllers")) || readyAt("apps").Before(readyAt("infra-configs")) {
		t.Errorf("Ready out of dependsOn order: controllers %s, configs %s, apps %s", readyAt("infra-controllers"), readyAt("infra-configs"), readyAt("apps"))
	}

	// Every object of the rendered cluster exists: the real API server accepted them all.
	v, err := validate.New(validate.Opts{Cluster: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := v.Render(context.Background(), repo)
	if err != nil || len(rendered) != 1 {
		t.Fatalf("render: %v", err)
	}
	count := 0
	for _, ks := range rendered[0].Kustomizations {
		for _, o := range ks.Objects {
			u := &unstructured.Unstructured{}
			u.SetAPIVersion(o.APIVersion)
			u.SetKind(o.Kind)
			if err := kc.Get(context.Background(), client.ObjectKey{Namespace: o.Namespace, Name: o.Name}, u); err != nil {
				t.Errorf("%s %s/%s (Kustomization %s) is not in the cluster: %v", o.Kind, o.Namespace, o.Name, ks.Name, err)
			}
			count++
		}
	}
	t.Logf("%d rendered objects found in the API server", count)

	// The Orthanc Deployment passes its health check on the simulated node.
	var deploy appsv1.Deployment
	eventually(t, time.Minute, func() error {
		if err := kc.Get(context.Background(), client.ObjectKey{Namespace: "orthanc", Name: "orthanc"}, &deploy); err != nil {
			return err
		}
		if deploy.Status.AvailableReplicas != *deploy.Spec.Replicas {
			return fmt.Errorf("%d/%d available", deploy.Status.AvailableReplicas, *deploy.Spec.Replicas)
		}
		return nil
	})

	// Self-healing: delete the Service and change the Deployment by hand; the next reconcile
	// restores both.
	ctx := context.Background()
	if err := kc.Delete(ctx, &corev1.Service{ObjectMeta: deploy.ObjectMeta}); err != nil {
		t.Fatal(err)
	}
	// The controllers update the Deployment's status meanwhile: retry on conflict.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var d appsv1.Deployment
		if err := kc.Get(ctx, client.ObjectKey{Namespace: "orthanc", Name: "orthanc"}, &d); err != nil {
			return err
		}
		d.Spec.Template.Spec.Containers[0].Image = "example.org/tampered:1"
		return kc.Update(ctx, &d)
	}); err != nil {
		t.Fatal(err)
	}
	reconcileNow(t, kc, &kustomizev1.Kustomization{ObjectMeta: kss["apps"].ObjectMeta})
	eventually(t, 2*time.Minute, func() error {
		var svc corev1.Service
		if err := kc.Get(ctx, client.ObjectKey{Namespace: "orthanc", Name: "orthanc"}, &svc); err != nil {
			return err
		}
		var d appsv1.Deployment
		if err := kc.Get(ctx, client.ObjectKey{Namespace: "orthanc", Name: "orthanc"}, &d); err != nil {
			return err
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "jodogne/orthanc-plugins:1.12.9" {
			return fmt.Errorf("image still %s", img)
		}
		return nil
	})

	// An update and a prune through git: more replicas for the cluster, the ServiceMonitor gone.
	git.Pull(t, repo)
	if code, _, errOut := korthops(t, "-C", repo, "cluster", "add", "e2e", "--provider", "onprem", "--ingress", ingress,
		"--domain", "e2e.example.org", "--replicas", "3", "--force"); code != 0 {
		t.Fatal(errOut)
	}
	kfile := filepath.Join(repo, "apps", "base", "orthanc", "kustomization.yaml")
	data, _ := os.ReadFile(kfile)
	if err := os.WriteFile(kfile, []byte(strings.Replace(string(data), "  - servicemonitor.yaml\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	newHead := git.CommitPush(t, repo, "3 replicas, no ServiceMonitor")
	reconcileNow(t, kc, &sourcev1.GitRepository{ObjectMeta: repoObj.ObjectMeta})
	eventually(t, 3*time.Minute, func() error {
		ks, err := readyKS(kc, "apps")
		if err != nil {
			return err
		}
		if ks.Status.LastAppliedRevision != "main@sha1:"+newHead {
			reconcileNow(t, kc, &kustomizev1.Kustomization{ObjectMeta: ks.ObjectMeta})
			return fmt.Errorf("apps at %s", ks.Status.LastAppliedRevision)
		}
		var d appsv1.Deployment
		if err := kc.Get(ctx, client.ObjectKey{Namespace: "orthanc", Name: "orthanc"}, &d); err != nil {
			return err
		}
		if *d.Spec.Replicas != 3 {
			return fmt.Errorf("replicas %d", *d.Spec.Replicas)
		}
		sm := &unstructured.Unstructured{}
		sm.SetAPIVersion("monitoring.coreos.com/v1")
		sm.SetKind("ServiceMonitor")
		if err := kc.Get(ctx, client.ObjectKey{Namespace: "orthanc", Name: "orthanc"}, sm); !apierrors.IsNotFound(err) {
			return fmt.Errorf("ServiceMonitor not pruned: %v", err)
		}
		return nil
	})

	// status shows the sources and Kustomizations Ready with their revision, and exits 1 because
	// the HelmReleases cannot become Ready without their charts.
	code, out, _ = korthops(t, "status", "--kubeconfig", env.KubeConfig)
	ready := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		switch f[0] {
		case "GitRepository", "Kustomization":
			if f[3] != "True" || f[4] != "main@sha1:"+newHead {
				t.Errorf("status: not Ready at the pushed revision: %s", line)
			}
			ready[f[0]]++
		case "HelmRelease":
			ready[f[0]]++
		}
	}
	if code != 1 || ready["GitRepository"] != 1 || ready["Kustomization"] != 4 || ready["HelmRelease"] == 0 {
		t.Errorf("status: exit %d (want 1: the HelmReleases cannot be Ready here)\n%s", code, out)
	}
}
