package validate

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/korthops/korthops/internal/repotest"
)

// outcome is everything a run produced: the report and every object with its place.
func outcome(t *testing.T, v *Validator, dir string) (*Report, []string, int) {
	t.Helper()
	r, err := v.validate(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.close)
	var objects []string
	for _, o := range r.objects {
		objects = append(objects, fmt.Sprintf("%s|%s|%s|%s|%v\n%s", o.cluster, o.via, o.file, o.id(), o.ignore, o.json))
	}
	slices.Sort(objects)
	hits := 0
	if r.cache != nil {
		hits = r.cache.hits
	}
	return r.report(), objects, hits
}

// The build cache is an optimisation only: with and without it, every repository gives the same
// report and the same objects, placed in the same files and clusters.
func TestBuildCacheChangesNoResult(t *testing.T) {
	tests := []struct {
		name     string
		repo     func(t *testing.T) string
		minHits  int
		findings []string // cluster|file|check of every finding expected
	}{
		{name: "canonical content", repo: func(t *testing.T) string { return copyContent(t) }},
		{name: "Flux monorepo", repo: func(t *testing.T) string {
			dir := t.TempDir()
			copyTree(t, filepath.Join("testdata", "monorepo"), dir)
			return dir
		}},
		{name: "ExternalArtifacts", repo: func(t *testing.T) string {
			dir := t.TempDir()
			copyTree(t, filepath.Join("testdata", "artifacts"), dir)
			return dir
		}, findings: []string{"prod|clusters/prod/generator.yaml|" + CheckExternalSource, "prod|clusters/prod/teams.yaml|" + CheckExternalSource}},
		{name: "fleet with one broken overlay", minHits: 10, repo: func(t *testing.T) string {
			dir := generatedFleet(t, 12, false)
			// site-005 and site-001 share provider and ingress: only site-005 is broken.
			repotest.Edit(t, dir, "apps/overlays/site-005/kustomization.yaml", "value: 2", "value: \"two\"")
			return dir
		}, findings: []string{"site-005|apps/base/orthanc/deployment.yaml|" + CheckSchema}},
		{name: "same kustomization over different files", repo: func(t *testing.T) string {
			dir := copyContent(t)
			for _, site := range []string{"a", "b"} {
				repotest.Write(t, dir, "extra/"+site+"/kustomization.yaml", "resources:\n  - cm.yaml\n")
			}
			repotest.Write(t, dir, "extra/a/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: default\ndata:\n  k: v\n")
			repotest.Write(t, dir, "extra/b/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: default\ndta:\n  k: v\n")
			return dir
		}, findings: []string{"|extra/b/cm.yaml|" + CheckSchema}},
		{name: "same kustomization over different bases", repo: func(t *testing.T) string {
			dir := copyContent(t)
			for _, site := range []string{"a", "b"} {
				repotest.Write(t, dir, "extra/"+site+"/overlay/kustomization.yaml", "resources:\n  - ../base\nnamespace: default\n")
				repotest.Write(t, dir, "extra/"+site+"/base/kustomization.yaml", "resources:\n  - cm.yaml\n")
			}
			repotest.Write(t, dir, "extra/a/base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: v\n")
			repotest.Write(t, dir, "extra/b/base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: 1\n")
			return dir
		}, findings: []string{"|extra/b/base/cm.yaml|" + CheckSchema, "|extra/b/base/cm.yaml|" + CheckSchema}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.repo(t)
			cached := newValidator(t, Opts{})
			uncached := newValidator(t, Opts{})
			uncached.noBuildCache = true
			want, wantObjects, _ := outcome(t, uncached, dir)
			got, gotObjects, hits := outcome(t, cached, dir)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("report with the build cache:\n%+v\nwithout:\n%+v", got, want)
			}
			if !slices.Equal(gotObjects, wantObjects) {
				for i := range min(len(gotObjects), len(wantObjects)) {
					if gotObjects[i] != wantObjects[i] {
						t.Fatalf("%d objects with the cache, %d without; first difference:\n%s\nwithout the cache:\n%s", len(gotObjects), len(wantObjects), gotObjects[i], wantObjects[i])
					}
				}
				t.Fatalf("%d objects with the cache, %d without", len(gotObjects), len(wantObjects))
			}
			if hits < tt.minHits {
				t.Errorf("%d builds served by the cache, want at least %d", hits, tt.minHits)
			}
			var findings []string
			for _, f := range got.Findings {
				findings = append(findings, f.Cluster+"|"+f.File+"|"+f.Check)
			}
			if !slices.Equal(findings, tt.findings) {
				t.Errorf("findings %q, want %q", findings, tt.findings)
			}
		})
	}
}
