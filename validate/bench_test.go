package validate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/korthops/korthops/layout"
)

// generatedFleet writes a korthops repository with n clusters: init + n × cluster add, cycling
// through providers and ingresses like a real fleet, so overlays repeat. With distinct, every
// cluster has its own storage class and replica count, so no two clusters share an overlay: the
// worst case for the build cache.
func generatedFleet(tb testing.TB, n int, distinct bool) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "repo")
	repo, _, err := layout.Init(dir)
	if err != nil {
		tb.Fatal(err)
	}
	providers, ingresses := layout.Providers(), layout.Ingresses()
	for i := range n {
		s := layout.Settings{
			Name:     fmt.Sprintf("site-%03d", i),
			Provider: providers[i%len(providers)],
			Ingress:  ingresses[(i/len(providers))%len(ingresses)],
			Domain:   fmt.Sprintf("site-%03d.pacs.example.org", i),
		}
		if distinct {
			s.StorageClass, s.Replicas = fmt.Sprintf("storage-%03d", i), 1+i%5
		}
		if _, err := repo.AddCluster(s, layout.AddOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// BenchmarkValidate compares, in one run, korthops validate on generated repositories of 10, 50
// and 100 clusters (and 100 clusters that share no overlay) with a build-only pass and with the
// classic per-root loop `kustomize build DIR | kubeconform -strict` using the same schemas.
// Reproduce with:
//
//	go test ./validate -run '^$' -bench Validate -benchtime 3x -timeout 60m
func BenchmarkValidate(b *testing.B) {
	defer TuneGC()() // as the korthops command does
	for _, fleet := range []struct {
		name     string
		n        int
		distinct bool
	}{{"10", 10, false}, {"50", 50, false}, {"100", 100, false}, {"100-distinct", 100, true}} {
		dir := generatedFleet(b, fleet.n, fleet.distinct)
		b.Run(fmt.Sprintf("clusters=%s/korthops", fleet.name), func(b *testing.B) {
			v := newValidator(b, Opts{})
			resetPeakRSS()
			var rep *Report
			for b.Loop() {
				var err error
				if rep, err = v.Validate(context.Background(), dir); err != nil || !rep.Valid() {
					b.Fatalf("validate: %v %+v", err, rep)
				}
			}
			b.ReportMetric(float64(rep.Resources), "resources")
			b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
		})
		b.Run(fmt.Sprintf("clusters=%s/build-only", fleet.name), func(b *testing.B) {
			v := newValidator(b, Opts{})
			v.buildOnly = true
			for b.Loop() {
				if _, err := v.Validate(context.Background(), dir); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("clusters=%s/baseline", fleet.name), func(b *testing.B) {
			kustomize, kubeconform := baselineTools(b)
			schemas := b.TempDir()
			if err := ExportSchemas(schemas); err != nil {
				b.Fatal(err)
			}
			repo, err := layout.Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			roots, err := repo.KustomizationRoots()
			if err != nil {
				b.Fatal(err)
			}
			args := []string{"-strict", "-kubernetes-version", DefaultKubernetesVersion(), "-summary"}
			for _, l := range ExportLocations(schemas) {
				args = append(args, "-schema-location", l)
			}
			for b.Loop() {
				for _, root := range roots {
					build := exec.Command(kustomize, "build", filepath.Join(dir, root))
					check := exec.Command(kubeconform, args...)
					pipe, err := build.StdoutPipe()
					if err != nil {
						b.Fatal(err)
					}
					check.Stdin = pipe
					var out strings.Builder
					check.Stdout, check.Stderr, build.Stderr = &out, &out, &out
					if err := build.Start(); err != nil {
						b.Fatal(err)
					}
					if err := check.Run(); err != nil && !strings.Contains(root, "components") {
						b.Logf("%s: %v\n%s", root, err, out.String())
					}
					if err := build.Wait(); err != nil && !strings.Contains(root, "components") {
						b.Fatalf("kustomize build %s: %v\n%s", root, err, out.String())
					}
				}
			}
			b.ReportMetric(float64(len(roots)), "roots")
		})
	}
}

// baselineTools builds kustomize v5.8.2 and kubeconform v0.8.0 from the Go module proxy, once,
// into the user cache directory.
func baselineTools(b *testing.B) (kustomize, kubeconform string) {
	b.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(cache, "korthops", "bench", "bin")
	tools := []struct{ pkg, version, name string }{
		{"sigs.k8s.io/kustomize/kustomize/v5", "v5.8.2", "kustomize"},
		{"github.com/yannh/kubeconform/cmd/kubeconform", "v0.8.0", "kubeconform"},
	}
	var paths []string
	for _, t := range tools {
		dir := filepath.Join(bin, t.name+"-"+t.version)
		path := filepath.Join(dir, t.name)
		if _, err := os.Stat(path); err != nil {
			cmd := exec.Command("go", "install", t.pkg+"@"+t.version)
			cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Skipf("BASELINE SKIPPED: cannot build %s@%s from the Go module proxy: %v\n%s", t.pkg, t.version, err, out)
			}
		}
		paths = append(paths, path)
	}
	return paths[0], paths[1]
}

// resetPeakRSS resets the kernel's high-water mark of this process's resident memory.
func resetPeakRSS() {
	runtime.GC()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSMB reads the resident memory high-water mark (VmHWM) of this process.
func peakRSSMB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb / 1024
		}
	}
	return 0
}
