package bootstrap

import (
	"context"
	"io/fs"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// newerBundle plays a korthops built with a newer Flux: the embedded bundle with another version
// and source-controller image.
func newerBundle(t *testing.T) fs.FS {
	t.Helper()
	b := embeddedBundle()
	out := fstest.MapFS{}
	entries, err := fs.ReadDir(b, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := fs.ReadFile(b, e.Name())
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		switch e.Name() {
		case "VERSION":
			s = "v2.9.99\n"
		case "source-controller.yaml":
			if !strings.Contains(s, "fluxcd/source-controller:v1.9.5") {
				t.Fatal("bundle has no source-controller v1.9.5 image")
			}
			s = strings.ReplaceAll(s, "fluxcd/source-controller:v1.9.5", "fluxcd/source-controller:v1.9.99")
		}
		out[e.Name()] = &fstest.MapFile{Data: []byte(s), Mode: 0o644}
	}
	return out
}

func sourceControllerImage(t *testing.T, f *fixture) string {
	t.Helper()
	var d appsv1.Deployment
	if err := f.kube.Get(context.Background(), client.ObjectKey{Namespace: "flux-system", Name: "source-controller"}, &d); err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// A korthops with a newer embedded Flux upgrades an installation that Flux already manages: a
// new commit, and the components applied.
func TestBootstrapUpgradesFlux(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := Run(ctx, f.options()); err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, f.out.String())
	}
	if img := sourceControllerImage(t, f); img != "ghcr.io/fluxcd/source-controller:v1.9.5" {
		t.Fatalf("installed image %s", img)
	}
	// Flux has reconciled the installation once, as it would in a real cluster.
	var ks kustomizev1.Kustomization
	if err := f.kube.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: "flux-system"}, &ks); err != nil {
		t.Fatal(err)
	}
	ks.Status.LastAppliedRevision = "main@sha1:" + f.remoteHead(t)
	if err := f.kube.Status().Update(ctx, &ks); err != nil {
		t.Fatal(err)
	}
	head := f.remoteHead(t)

	o := f.options()
	o.bundle = newerBundle(t)
	f.out.Reset()
	if err := Run(ctx, o); err != nil {
		t.Fatalf("upgrade: %v\n%s", err, f.out.String())
	}
	if f.remoteHead(t) == head {
		t.Error("the upgrade made no commit")
	}
	subject, _ := exec.Command("git", "-C", f.git.Dir("fleet.git"), "log", "--format=%s", head+"..main").Output()
	if !strings.Contains(string(subject), "Add Flux v2.9.99 component manifests") {
		t.Errorf("commits of the upgrade: %s", subject)
	}
	if img := sourceControllerImage(t, f); img != "ghcr.io/fluxcd/source-controller:v1.9.99" {
		t.Errorf("source-controller image after the upgrade: %s", img)
	}
	if !strings.Contains(f.out.String(), "upgraded Flux components to v2.9.99") {
		t.Errorf("output:\n%s", f.out.String())
	}
}

// --registry and --image-pull-secret: an air-gapped cluster pulls the controllers from a mirror.
func TestBootstrapWithRegistryMirror(t *testing.T) {
	f := newFixture(t)
	o := f.options()
	o.Registry = "registry.hospital.internal/mirror/fluxcd"
	o.ImagePullSecret = "mirror-pull"
	if err := Run(context.Background(), o); err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, f.out.String())
	}
	var d appsv1.Deployment
	if err := f.kube.Get(context.Background(), client.ObjectKey{Namespace: "flux-system", Name: "kustomize-controller"}, &d); err != nil {
		t.Fatal(err)
	}
	spec := d.Spec.Template.Spec
	if spec.Containers[0].Image != "registry.hospital.internal/mirror/fluxcd/kustomize-controller:v1.9.5" {
		t.Errorf("image %s", spec.Containers[0].Image)
	}
	if len(spec.ImagePullSecrets) != 1 || spec.ImagePullSecrets[0].Name != "mirror-pull" {
		t.Errorf("image pull secrets %+v", spec.ImagePullSecrets)
	}
	for _, img := range FluxImages(o.Registry) {
		if !strings.HasPrefix(img, o.Registry+"/") {
			t.Errorf("FluxImages: %s", img)
		}
	}
}
