package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/korthops/korthops/internal/repotest"
)

var testCacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "korthops-validate-test-")
	if err != nil {
		panic(err)
	}
	testCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newValidator(t testing.TB, opts Opts) *Validator {
	t.Helper()
	opts.CacheDir = testCacheDir
	v, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// copyContent copies the checked-in GitOps content into a temp repository.
func copyContent(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	for _, name := range []string{"clusters", "infrastructure", "apps", "korthops.yaml"} {
		copyTree(t, filepath.Join("..", name), filepath.Join(dst, name))
	}
	return dst
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lineOf is the 1-based line of the first occurrence of text in a repository file.
func lineOf(t testing.TB, dir, file, text string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), text)
	if i < 0 {
		t.Fatalf("%s does not contain %q", file, text)
	}
	return strings.Count(string(data[:i]), "\n") + 1
}

func validateDir(t testing.TB, dir string, opts Opts) *Report {
	t.Helper()
	rep, err := newValidator(t, opts).Validate(context.Background(), dir)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	return rep
}

func TestCheckedInRepositoryIsValid(t *testing.T) {
	rep := validateDir(t, "..", Opts{})
	for _, f := range rep.Findings {
		t.Errorf("%s: [%s] %s %s: %s", f.Location(), f.Check, f.Resource, f.Field, f.Message)
	}
	if len(rep.Clusters) != 4 || rep.Kustomizations != 16 {
		t.Errorf("validated %d clusters through %d Flux Kustomizations, want 4 and 16", len(rep.Clusters), rep.Kustomizations)
	}
	if rep.Resources < 100 {
		t.Errorf("only %d resources validated", rep.Resources)
	}
}

// Each check catches a deliberately broken copy of the content, at the right file, line and field.
func TestChecksCatchBrokenContent(t *testing.T) {
	tests := []struct {
		name      string
		breakRepo func(t testing.TB, dir string)
		check     string
		file      string
		lineText  string // the finding's line holds this text
		field     string
		message   string
		cluster   string
	}{
		{
			name: "unknown field",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "apps/base/orthanc/deployment.yaml", "  replicas: 1\n", "  replicas: 1\n  replica: 2\n")
			},
			check: CheckSchema, file: "apps/base/orthanc/deployment.yaml", lineText: "replica: 2",
			field: ".spec.replica", message: "additional properties 'replica' not allowed", cluster: "onprem",
		},
		{
			name: "wrong type",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "apps/base/orthanc/deployment.yaml", "containerPort: 8042", "containerPort: eighty")
			},
			check: CheckSchema, file: "apps/base/orthanc/deployment.yaml", lineText: "containerPort: eighty",
			field: ".spec.template.spec.containers[0].ports[0].containerPort", message: "got string, want integer", cluster: "aws",
		},
		{
			name: "deprecated API version without a schema",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "infrastructure/controllers/cert-manager/release.yaml", "helm.toolkit.fluxcd.io/v2", "helm.toolkit.fluxcd.io/v2beta2")
			},
			check: CheckSchemaMissing, file: "infrastructure/controllers/cert-manager/release.yaml", lineText: "apiVersion: helm.toolkit.fluxcd.io/v2beta2",
			message: "no schema for helm.toolkit.fluxcd.io/v2beta2 HelmRelease", cluster: "gcp",
		},
		{
			name: "undefined postBuild variable",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "apps/components/traefik/ingressroutes.yaml", "${CLUSTER_DOMAIN}", "${CLUSTER_DOMAIM}")
			},
			check: CheckUnresolvedVar, file: "apps/components/traefik/ingressroutes.yaml", lineText: "${CLUSTER_DOMAIM}",
			message: "variable ${CLUSTER_DOMAIM} is not defined", cluster: "azure",
		},
		{
			name: "missing substituteFrom ConfigMap",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "clusters/onprem/apps.yaml", "name: cluster-settings", "name: cluster-setting")
			},
			check: CheckSubstituteFrom, file: "clusters/onprem/apps.yaml", lineText: "- kind: ConfigMap",
			field: ".spec.postBuild.substituteFrom[0]", message: "ConfigMap flux-system/cluster-setting is not defined", cluster: "onprem",
		},
		{
			name: "Flux path that does not exist",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "clusters/aws/apps.yaml", "path: ./apps/overlays/aws", "path: ./apps/overlay/aws")
			},
			check: CheckFluxPath, file: "clusters/aws/apps.yaml", lineText: "path: ./apps/overlay/aws",
			field: ".spec.path", message: `path "./apps/overlay/aws" does not exist`, cluster: "aws",
		},
		{
			name: "Flux source that does not exist",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "clusters/aws/apps.yaml", "name: flux-system\n  path", "name: gitops\n  path")
			},
			check: CheckFluxSource, file: "clusters/aws/apps.yaml", lineText: "sourceRef:",
			field: ".spec.sourceRef", message: "source GitRepository flux-system/gitops is not defined in cluster aws", cluster: "aws",
		},
		{
			name: "dependsOn target that does not exist",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "clusters/gcp/apps.yaml", "- name: infra-configs", "- name: infra-config")
			},
			check: CheckDependsOn, file: "clusters/gcp/apps.yaml", lineText: "- name: infra-config",
			field: ".spec.dependsOn[0].name", message: "dependsOn: Kustomization flux-system/infra-config does not exist", cluster: "gcp",
		},
		{
			name: "dependsOn cycle",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "clusters/gcp/infrastructure.yaml", "  interval: 1h\n  retryInterval: 2m\n  timeout: 15m", "  dependsOn:\n    - name: apps\n  interval: 1h\n  retryInterval: 2m\n  timeout: 15m")
			},
			check: CheckDependsOnCycle, file: "clusters/gcp/apps.yaml", lineText: "  dependsOn:",
			field: ".spec.dependsOn", message: "dependsOn cycle: flux-system/apps -> flux-system/infra-configs -> flux-system/infra-controllers -> flux-system/apps", cluster: "gcp",
		},
		{
			name: "HelmRelease chart source that does not exist",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "infrastructure/controllers/cert-manager/release.yaml", "name: jetstack", "name: jetstak")
			},
			check: CheckHelmChartSource, file: "infrastructure/controllers/cert-manager/release.yaml", lineText: "name: jetstak",
			field: ".spec.chart.spec.sourceRef.name", message: "chart source HelmRepository cert-manager/jetstak does not exist", cluster: "onprem",
		},
		{
			name: "HelmRelease valuesFrom that does not exist",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "apps/base/postgresql/release.yaml", "  values:\n", "  valuesFrom:\n    - kind: ConfigMap\n      name: postgresql-values\n  values:\n")
			},
			check: CheckHelmValuesFrom, file: "apps/base/postgresql/release.yaml", lineText: "name: postgresql-values",
			field: ".spec.valuesFrom[0].name", message: "valuesFrom ConfigMap orthanc/postgresql-values does not exist", cluster: "azure",
		},
		{
			name: "Certificate issuer that does not exist",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "apps/components/istio/certificate.yaml", "name: korthops-ca", "name: korthops-root")
			},
			check: CheckIssuerRef, file: "apps/components/istio/certificate.yaml", lineText: "name: korthops-root",
			field: ".spec.issuerRef.name", message: `issuerRef: ClusterIssuer "korthops-root" does not exist`, cluster: "onprem",
		},
		{
			name: "VirtualService gateway that does not exist",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "apps/components/istio/virtualservices.yaml", "- istio-ingress/orthanc", "- istio-system/orthanc")
			},
			check: CheckIstioGateway, file: "apps/components/istio/virtualservices.yaml", lineText: "- istio-system/orthanc",
			field: ".spec.gateways[0]", message: "gateway istio-system/orthanc does not exist", cluster: "aws",
		},
		{
			name: "Gateway credential without a certificate",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "apps/components/istio/gateway.yaml", "credentialName: orthanc-tls", "credentialName: orthanc-cert")
			},
			check: CheckIstioCredential, file: "apps/components/istio/gateway.yaml", lineText: "credentialName: orthanc-cert",
			field: ".spec.servers[1].tls.credentialName", message: `credentialName "orthanc-cert" matches no Certificate`, cluster: "gcp",
		},
		{
			name: "IngressRoute TLS secret without a certificate",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "apps/components/traefik/ingressroutes.yaml", "secretName: orthanc-tls", "secretName: orthanc-cert")
			},
			check: CheckTraefikTLSSecret, file: "apps/components/traefik/ingressroutes.yaml", lineText: "secretName: orthanc-cert",
			field: ".spec.tls.secretName", message: `secretName "orthanc-cert" matches no Certificate`, cluster: "azure",
		},
		{
			name: "duplicate resource across Kustomizations",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Write(t, dir, "clusters/onprem/namespaces.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: orthanc\n")
			},
			check: CheckDuplicate, file: "apps/base/orthanc/namespace.yaml", lineText: "  name: orthanc",
			field: ".metadata.name", message: "Namespace/orthanc is also defined in clusters/onprem/namespaces.yaml", cluster: "onprem",
		},
		{
			name: "namespace never created",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "infrastructure/configs/istio/peer-authentication.yaml", "namespace: istio-system", "namespace: istio-sytem")
			},
			check: CheckNamespace, file: "infrastructure/configs/istio/peer-authentication.yaml", lineText: "namespace: istio-sytem",
			field: ".metadata.namespace", message: `namespace "istio-sytem" is never created in cluster aws`, cluster: "aws",
		},
		{
			name: "malformed YAML",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "apps/base/orthanc/service.yaml", "  selector:\n", "  selector:\n   - broken: [\n")
			},
			check: CheckYAML, file: "apps/base/orthanc/service.yaml", lineText: "  selector:\n   - broken: [",
			message: "yaml:",
		},
		{
			name: "duplicate YAML key",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "apps/base/orthanc/service.yaml", "kind: Service\n", "kind: Service\nkind: Service\n")
			},
			check: CheckYAML, file: "apps/base/orthanc/service.yaml", lineText: "kind: Service\nmetadata",
			message: `mapping key "kind" already defined`,
		},
		{
			name: "kustomize error",
			breakRepo: func(t testing.TB, dir string) {
				repotest.Edit(t, dir, "apps/base/orthanc/kustomization.yaml", "  - service.yaml\n", "  - service.yaml\n  - missing.yaml\n")
			},
			check: CheckBuild, file: "apps/overlays/gcp/kustomization.yaml",
			message: "missing.yaml", cluster: "gcp",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyContent(t)
			tt.breakRepo(t, dir)
			rep := validateDir(t, dir, Opts{})
			if rep.Valid() {
				t.Fatal("broken content validated")
			}
			wantLine := 0
			if tt.lineText != "" {
				wantLine = lineOf(t, dir, tt.file, tt.lineText)
			}
			for _, f := range rep.Findings {
				if f.Check == tt.check && f.File == tt.file && strings.Contains(f.Message, tt.message) &&
					(tt.lineText == "" || f.Line == wantLine) && (tt.field == "" || f.Field == tt.field) &&
					(tt.cluster == "" || f.Cluster == tt.cluster) {
					return
				}
			}
			for _, f := range rep.Findings {
				t.Logf("%s: [%s] cluster=%s %s %s: %s", f.Location(), f.Check, f.Cluster, f.Resource, f.Field, f.Message)
			}
			t.Errorf("no [%s] finding at %s:%d field %q cluster %q with message %q", tt.check, tt.file, wantLine, tt.field, tt.cluster, tt.message)
		})
	}
}
