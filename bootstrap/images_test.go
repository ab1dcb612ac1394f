package bootstrap

import (
	"context"
	"slices"
	"testing"

	"github.com/korthops/korthops/validate"
)

func TestImages(t *testing.T) {
	list, err := Images(context.Background(), "..", "onprem", "", validate.Opts{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ghcr.io/fluxcd/helm-controller:v1.6.4", "ghcr.io/fluxcd/kustomize-controller:v1.9.5",
		"ghcr.io/fluxcd/notification-controller:v1.9.4", "ghcr.io/fluxcd/source-controller:v1.9.5",
		"jodogne/orthanc-plugins:1.12.9",
	}
	if !slices.Equal(list.Images, want) {
		t.Errorf("images %v, want %v", list.Images, want)
	}
	if !slices.Contains(list.Unrendered, "onprem/orthanc/postgresql") {
		t.Errorf("unrendered HelmReleases %v", list.Unrendered)
	}
	mirrored, err := Images(context.Background(), "..", "onprem", "mirror.example.org/flux", validate.Opts{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(mirrored.Images, "mirror.example.org/flux/source-controller:v1.9.5") {
		t.Errorf("mirrored images %v", mirrored.Images)
	}
}
