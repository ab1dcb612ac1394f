package diff

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/korthops/korthops/internal/repotest"
	"github.com/korthops/korthops/layout"
	"github.com/korthops/korthops/validate"
)

// BenchmarkPullRequest measures, in one run, what CI does on a one-line pull request to a fleet of
// 100 clusters: diff against the base, validate --changed-since, and a full validate. Reproduce with:
//
//	go test ./diff -run '^$' -bench PullRequest -benchtime 3x
func BenchmarkPullRequest(b *testing.B) {
	defer validate.TuneGC()() // as the korthops command does
	dir := filepath.Join(b.TempDir(), "fleet")
	repo, _, err := layout.Init(dir)
	if err != nil {
		b.Fatal(err)
	}
	providers, ingresses := layout.Providers(), layout.Ingresses()
	for i := range 100 {
		s := layout.Settings{Name: fmt.Sprintf("site-%03d", i), Provider: providers[i%len(providers)],
			Ingress: ingresses[(i/len(providers))%len(ingresses)], Domain: fmt.Sprintf("site-%03d.pacs.example.org", i)}
		if _, err := repo.AddCluster(s, layout.AddOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	repotest.CommitAll(b, dir, "fleet")
	repotest.Edit(b, dir, "apps/overlays/site-042/kustomization.yaml", "value: 2", "value: 3")
	cache := b.TempDir()
	ctx := context.Background()

	b.Run("diff", func(b *testing.B) {
		for b.Loop() {
			res, err := Run(ctx, dir, Opts{Base: "HEAD", Validate: validate.Opts{CacheDir: cache}})
			if err != nil || len(res.Clusters) != 1 || len(res.Unaffected) != 99 {
				b.Fatalf("diff: %v %+v", err, res)
			}
		}
	})
	for _, bc := range []struct {
		name     string
		opts     validate.Opts
		clusters int
	}{
		{"validate-changed-since", validate.Opts{CacheDir: cache, ChangedSince: "HEAD"}, 1},
		{"validate-full", validate.Opts{CacheDir: cache}, 100},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v, err := validate.New(bc.opts)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				rep, err := v.Validate(ctx, dir)
				if err != nil || len(rep.Clusters) != bc.clusters || !rep.Valid() {
					b.Fatalf("validate: %v %d clusters", err, len(rep.Clusters))
				}
			}
		})
	}
}
