package validate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsonschema "github.com/santhosh-tekuri/jsonschema/v6"
)

// kubeconform reports a schema that does not compile as "could not find schema", so every
// embedded schema must compile.
func TestEverySchemaCompiles(t *testing.T) {
	cat, err := OpenCatalog(testCacheDir)
	if err != nil {
		t.Fatal(err)
	}
	schemas := ListSchemas()
	if len(schemas) < 900 {
		t.Fatalf("catalog lists %d schemas", len(schemas))
	}
	c := jsonschema.NewCompiler()
	for _, s := range schemas {
		p := filepath.Join(cat.Dir(), filepath.FromSlash(s.File))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", s.File, err)
		}
		if err := c.AddResource(p, doc); err != nil {
			t.Fatalf("%s: %v", s.File, err)
		}
		if _, err := c.Compile(p); err != nil {
			t.Errorf("%s (%s %s): %v", s.File, s.APIVersion, s.Kind, err)
		}
	}
}

// The catalog covers every kind korthops scaffolds, for every Kubernetes version it ships, and the
// Istio schemas carry the root fields their CRDs leave out.
func TestCatalogCoverage(t *testing.T) {
	have := map[string]bool{}
	for _, s := range ListSchemas() {
		have[s.Kubernetes+" "+s.APIVersion+" "+s.Kind] = true
	}
	for _, v := range KubernetesVersions() {
		for _, gvk := range []string{"apps/v1 Deployment", "v1 Service", "v1 ConfigMap", "v1 Namespace", "apiextensions.k8s.io/v1 CustomResourceDefinition"} {
			if !have[v+" "+gvk] {
				t.Errorf("kubernetes %s: no schema for %s", v, gvk)
			}
		}
	}
	for _, gvk := range []string{
		"kustomize.toolkit.fluxcd.io/v1 Kustomization", "source.toolkit.fluxcd.io/v1 GitRepository", "source.toolkit.fluxcd.io/v1 OCIRepository",
		"source.toolkit.fluxcd.io/v1 ExternalArtifact", "source.extensions.fluxcd.io/v1beta1 ArtifactGenerator", "helm.toolkit.fluxcd.io/v2 HelmRelease", "notification.toolkit.fluxcd.io/v1beta3 Alert",
		"cert-manager.io/v1 Certificate", "cert-manager.io/v1 ClusterIssuer", "networking.istio.io/v1 Gateway", "networking.istio.io/v1 VirtualService",
		"security.istio.io/v1 AuthorizationPolicy", "monitoring.coreos.com/v1 ServiceMonitor", "traefik.io/v1alpha1 IngressRouteTCP",
		"gateway.networking.k8s.io/v1 HTTPRoute",
	} {
		if !have[" "+gvk] {
			t.Errorf("no CRD schema for %s", gvk)
		}
	}
	cat, err := OpenCatalog(testCacheDir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(cat.Dir(), "crds", "networking.istio.io", "gateway_v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct{ Properties map[string]json.RawMessage }
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"apiVersion", "kind", "metadata", "spec"} {
		if _, ok := s.Properties[f]; !ok {
			t.Errorf("istio Gateway schema has no %s", f)
		}
	}
	if !strings.Contains(string(s.Properties["metadata"]), "annotations") {
		t.Error("istio Gateway metadata is not the ObjectMeta schema")
	}
}

func TestExportMatchesKubeconformLayout(t *testing.T) {
	dir := t.TempDir()
	if err := ExportSchemas(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"v" + DefaultKubernetesVersion() + "-standalone-strict/deployment-apps-v1.json",
		"v" + DefaultKubernetesVersion() + "-standalone-strict/service-v1.json",
		"crds/helm.toolkit.fluxcd.io/helmrelease_v2.json",
	} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("export: %v", err)
		}
	}
}
