package validate

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzValidateYAML feeds arbitrary bytes through the whole path a repository file takes: YAML
// discovery, Flux generation, kustomize build, substitution, kubeconform and the checks. It must
// never panic nor hang.
func FuzzValidateYAML(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: ${X}\n",
		"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: k\nspec:\n  path: ./\n  postBuild:\n    substitute:\n      X: y\n",
		"a: &a [*a]\n",
		"---\n- 1\n---\n\"\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: x\n",
		"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../../etc]\n",
		"apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: g\n  namespace: flux-system\nspec:\n  sources:\n  - alias: r\n    kind: GitRepository\n    name: flux-system\n  artifacts:\n  - name: a\n    copy:\n    - from: \"@r/clusters/**\"\n      to: \"@artifact/x/\"\n      exclude: [\"*.md\"]\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: a\n  namespace: flux-system\nspec:\n  path: ./x/fuzz\n  sourceRef:\n    kind: ExternalArtifact\n    name: a\n",
	} {
		f.Add([]byte(seed))
	}
	v := newValidator(f, Opts{Workers: 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "clusters", "fuzz"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "clusters", "fuzz", "input.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "clusters", "fuzz", "ks.yaml"), []byte("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: fuzz\n  namespace: flux-system\nspec:\n  interval: 1m\n  path: ./clusters/fuzz\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  postBuild:\n    substitute:\n      X: y\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, _ = v.Validate(context.Background(), dir)
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("validation of %d bytes took %s", len(data), d)
		}
	})
}
