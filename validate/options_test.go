package validate

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/korthops/korthops/internal/repotest"
)

func findingsOf(rep *Report, check string) []Finding {
	var out []Finding
	for _, f := range rep.Findings {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

// A Flux monorepo laid out as Flux documents it (clusters/, infrastructure/, apps/ with
// base/production/staging, one cluster bootstrapped, one not, a folder without kustomization.yaml,
// spec.patches and inline postBuild variables) validates, and its breakages are caught.
func TestFluxMonorepo(t *testing.T) {
	rep := validateDir(t, "testdata/monorepo", Opts{})
	for _, f := range rep.Findings {
		t.Errorf("%s: [%s] %s: %s", f.Location(), f.Check, f.Resource, f.Message)
	}
	if strings.Join(rep.Clusters, ",") != "production,staging" || rep.Kustomizations != 8 {
		t.Errorf("clusters %v through %d Kustomizations, want production,staging through 8", rep.Clusters, rep.Kustomizations)
	}

	tests := []struct {
		name, file, old, new, check, message string
	}{
		{"unknown field in an overlay patch", "apps/staging/podinfo-values.yaml", "  test:\n    enable: true", "  test:\n    enabled: true",
			CheckSchema, "additional properties 'enabled' not allowed"},
		{"Flux spec.patches that do not apply", "clusters/staging/infrastructure.yaml", "path: /spec/acme/server", "path: /spec/acme/servers/0",
			CheckBuild, "kustomize build ./infrastructure/configs"},
		{"inline variable removed", "clusters/production/apps.yaml", "      cluster_env: production", "      environment: production",
			CheckUnresolvedVar, "variable ${cluster_env} is not defined"},
		{"generated folder with a broken manifest", "infrastructure/controllers/cert-manager.yaml", "interval: 12h", "interval: twelve hours",
			CheckSchema, "'twelve hours' does not match pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, "testdata/monorepo", dir)
			repotest.Edit(t, dir, tt.file, tt.old, tt.new)
			rep := validateDir(t, dir, Opts{})
			for _, f := range findingsOf(rep, tt.check) {
				if strings.Contains(f.Message, tt.message) {
					return
				}
			}
			t.Errorf("no [%s] finding with %q in %+v", tt.check, tt.message, rep.Findings)
		})
	}
}

func TestClusterOption(t *testing.T) {
	rep := validateDir(t, "..", Opts{Cluster: "azure"})
	if strings.Join(rep.Clusters, ",") != "azure" || rep.Kustomizations != 4 {
		t.Errorf("--cluster azure validated %v through %d Kustomizations", rep.Clusters, rep.Kustomizations)
	}
	if _, err := newValidator(t, Opts{Cluster: "mars"}).Validate(context.Background(), ".."); err == nil || !strings.Contains(err.Error(), `cluster "mars" not found`) {
		t.Errorf("unknown cluster: error %v", err)
	}
}

func TestKubernetesVersions(t *testing.T) {
	versions := KubernetesVersions()
	if len(versions) < 3 {
		t.Fatalf("catalog has %v, want the newest and at least two earlier minors", versions)
	}
	for _, v := range versions {
		rep := validateDir(t, "..", Opts{KubernetesVersion: v[:strings.LastIndex(v, ".")], Cluster: "onprem"})
		if rep.KubernetesVersion != v || !rep.Valid() {
			t.Errorf("kubernetes %s: validated with %s, findings %+v", v, rep.KubernetesVersion, rep.Findings)
		}
	}
	if _, err := New(Opts{KubernetesVersion: "1.12", CacheDir: testCacheDir}); err == nil {
		t.Error("a version outside the catalog was accepted")
	}
}

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.org
spec:
  group: example.org
  names:
    kind: Widget
    plural: widgets
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size:
                  type: integer
`

func addWidget(t *testing.T, dir, spec string) {
	t.Helper()
	repotest.Write(t, dir, "apps/base/orthanc/widget.yaml", "apiVersion: example.org/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n"+spec)
	repotest.Edit(t, dir, "apps/base/orthanc/kustomization.yaml", "  - service.yaml\n", "  - service.yaml\n  - widget.yaml\n")
}

func TestMissingSchemasAndTheirRemedies(t *testing.T) {
	dir := copyContent(t)
	addWidget(t, dir, "  size: 3\n")
	rep := validateDir(t, dir, Opts{Cluster: "onprem"})
	missing := findingsOf(rep, CheckSchemaMissing)
	if len(missing) != 1 || missing[0].File != "apps/base/orthanc/widget.yaml" || missing[0].Line != 1 || !strings.Contains(missing[0].Message, "Widget") {
		t.Fatalf("unknown kind: findings %+v", rep.Findings)
	}
	for name, opts := range map[string]Opts{
		"skip-kinds":             {SkipKinds: []string{"Widget"}},
		"ignore-missing-schemas": {IgnoreMissingSchemas: true},
	} {
		opts.Cluster = "onprem"
		if rep := validateDir(t, dir, opts); !rep.Valid() {
			t.Errorf("%s: findings %+v", name, rep.Findings)
		}
	}

	// --schema-location: a team's own schemas, in kubeconform's template syntax.
	schemas := t.TempDir()
	repotest.Write(t, schemas, "example.org/widget_v1.json", `{"type":"object","properties":{"apiVersion":{"type":"string"},"kind":{"type":"string"},"metadata":{"type":"object"},"spec":{"type":"object","properties":{"size":{"type":"integer"}},"additionalProperties":false}},"additionalProperties":false}`)
	loc := filepath.Join(schemas, "{{ .Group }}", "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json")
	if rep := validateDir(t, dir, Opts{Cluster: "onprem", SchemaLocations: []string{loc}}); !rep.Valid() {
		t.Errorf("--schema-location: findings %+v", rep.Findings)
	}
	repotest.Edit(t, dir, "apps/base/orthanc/widget.yaml", "size: 3", "size: big")
	rep = validateDir(t, dir, Opts{Cluster: "onprem", SchemaLocations: []string{loc}})
	if f := findingsOf(rep, CheckSchema); len(f) != 1 || f[0].Field != ".spec.size" || f[0].Line != 6 {
		t.Errorf("--schema-location: invalid widget: findings %+v", rep.Findings)
	}
}

// A CRD shipped in the repository validates the repository's custom resources.
func TestRepositoryCRDs(t *testing.T) {
	dir := copyContent(t)
	addWidget(t, dir, "  size: 3\n")
	repotest.Write(t, dir, "infrastructure/controllers/cert-manager/widget-crd.yaml", widgetCRD)
	repotest.Edit(t, dir, "infrastructure/controllers/cert-manager/kustomization.yaml", "  - release.yaml\n", "  - release.yaml\n  - widget-crd.yaml\n")
	if rep := validateDir(t, dir, Opts{Cluster: "gcp"}); !rep.Valid() {
		t.Fatalf("findings %+v", rep.Findings)
	}
	repotest.Edit(t, dir, "apps/base/orthanc/widget.yaml", "size: 3", "size: 3\n  colour: red")
	rep := validateDir(t, dir, Opts{Cluster: "gcp"})
	if f := findingsOf(rep, CheckSchema); len(f) != 1 || f[0].Field != ".spec.colour" || f[0].Line != 7 {
		t.Errorf("findings %+v", rep.Findings)
	}
}

func TestIgnoreAnnotationAndSkipCheck(t *testing.T) {
	dir := copyContent(t)
	repotest.Edit(t, dir, "infrastructure/configs/istio/peer-authentication.yaml", "namespace: istio-system", "namespace: mesh")
	if rep := validateDir(t, dir, Opts{Cluster: "gcp"}); len(findingsOf(rep, CheckNamespace)) != 1 {
		t.Fatalf("findings %+v", rep.Findings)
	}
	if rep := validateDir(t, dir, Opts{Cluster: "gcp", SkipChecks: []string{CheckNamespace}}); !rep.Valid() {
		t.Errorf("--skip-check: findings %+v", rep.Findings)
	}
	repotest.Edit(t, dir, "infrastructure/configs/istio/peer-authentication.yaml", "  namespace: mesh\n", "  namespace: mesh\n  annotations:\n    korthops.dev/ignore: schema,namespace-missing\n")
	if rep := validateDir(t, dir, Opts{Cluster: "gcp"}); !rep.Valid() {
		t.Errorf("annotation: findings %+v", rep.Findings)
	}
}

func TestExternalSourceIsAWarning(t *testing.T) {
	dir := copyContent(t)
	repotest.Write(t, dir, "clusters/onprem/charts-repo.yaml", `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: platform
  namespace: flux-system
spec:
  interval: 10m
  url: https://git.example.org/platform/charts.git
  ref:
    branch: main
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: platform
  namespace: flux-system
spec:
  interval: 10m
  path: ./deploy
  prune: true
  sourceRef:
    kind: GitRepository
    name: platform
`)
	rep := validateDir(t, dir, Opts{Cluster: "onprem"})
	ext := findingsOf(rep, CheckExternalSource)
	if !rep.Valid() || len(ext) != 1 || ext[0].Severity != SeverityWarning || ext[0].File != "clusters/onprem/charts-repo.yaml" ||
		!strings.Contains(ext[0].Message, "external source, not validated: GitRepository flux-system/platform") {
		t.Errorf("findings %+v", rep.Findings)
	}
}

func TestHostileInput(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(outside, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := copyContent(t)
	if err := os.Symlink(outside, filepath.Join(dir, "apps/base/orthanc/secret.yaml")); err != nil {
		t.Fatal(err)
	}
	repotest.Edit(t, dir, "apps/base/orthanc/kustomization.yaml", "  - service.yaml\n", "  - service.yaml\n  - secret.yaml\n")
	huge := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  blob: " + strings.Repeat("x", 9<<20) + "\n"
	repotest.Write(t, dir, "apps/base/huge.yaml", huge)
	repotest.Edit(t, dir, "apps/base/postgresql/kustomization.yaml", "  - release.yaml\n", "  - release.yaml\n  - missing.yaml\n")

	rep := validateDir(t, dir, Opts{})
	want := map[string]string{
		"apps/base/orthanc/secret.yaml": "symbolic link leads outside the repository",
		"apps/base/huge.yaml":           "larger than",
	}
	for file, msg := range want {
		found := false
		for _, f := range findingsOf(rep, CheckYAML) {
			found = found || f.File == file && strings.Contains(f.Message, msg)
		}
		if !found {
			t.Errorf("no finding for %s with %q", file, msg)
		}
	}
	build := findingsOf(rep, CheckBuild)
	var outsideReported, missingReported bool
	for _, f := range build {
		outsideReported = outsideReported || strings.Contains(f.Message, "secret.yaml")
		missingReported = missingReported || strings.Contains(f.Message, "missing.yaml")
	}
	if !outsideReported || !missingReported {
		t.Errorf("kustomize findings %+v", build)
	}
}

func TestReportFormats(t *testing.T) {
	dir := copyContent(t)
	repotest.Edit(t, dir, "apps/base/orthanc/deployment.yaml", "containerPort: 8042", "containerPort: eighty")
	rep := validateDir(t, dir, Opts{Cluster: "onprem"})
	render := func(f Format) string {
		var buf bytes.Buffer
		if err := rep.Write(&buf, f, false); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	line := lineOf(t, dir, "apps/base/orthanc/deployment.yaml", "containerPort: eighty")

	var decoded Report
	if err := json.Unmarshal([]byte(render(FormatJSON)), &decoded); err != nil || len(decoded.Findings) != 1 || decoded.Findings[0].Line != line {
		t.Errorf("json: %v %+v", err, decoded)
	}
	var junit struct {
		Suites []struct {
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(render(FormatJUnit)), &junit); err != nil || len(junit.Suites) != 1 || junit.Suites[0].Failures != 1 {
		t.Errorf("junit: %v %+v", err, junit)
	}
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(render(FormatSARIF)), &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs[0].Results) != 1 ||
		sarif.Runs[0].Results[0].Locations[0].PhysicalLocation.Region.StartLine != line {
		t.Errorf("sarif: %v %+v", err, sarif)
	}
	gh := render(FormatGitHub)
	if !strings.HasPrefix(gh, "::error title=korthops schema,file=apps/base/orthanc/deployment.yaml,line=") || !strings.Contains(gh, "Deployment/orthanc/orthanc") {
		t.Errorf("github: %q", gh)
	}
	text := render(FormatText)
	if !strings.Contains(text, "apps/base/orthanc/deployment.yaml:") || !strings.Contains(text, "1 error(s)") || strings.Contains(text, "\x1b[") {
		t.Errorf("text: %q", text)
	}
	var colored bytes.Buffer
	if err := rep.Write(&colored, FormatText, true); err != nil || !strings.Contains(colored.String(), "\x1b[31m") {
		t.Errorf("text with colour: %q", colored.String())
	}
}

// A repository split into ExternalArtifacts by an ArtifactGenerator: each artifact is staged from
// the working tree as source-watcher would stage it, built in isolation, and findings point at the
// repository files the artifact was copied from.
func TestArtifactGenerator(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dir string)
		// want is check|file|kustomization|message fragment of every error and warning.
		want []string
	}{
		{name: "valid"},
		{name: "schema error in a staged file", change: func(t *testing.T, dir string) {
			repotest.Edit(t, dir, "teams/frontend/deployment.yaml", "replicas: 2", "replica: 2")
		}, want: []string{
			CheckSchema + "|teams/frontend/deployment.yaml|flux-system/frontend|additional properties 'replica' not allowed",
		}},
		{name: "file copied to another name", change: func(t *testing.T, dir string) {
			repotest.Edit(t, dir, "teams/shared/settings.yaml", "LOG_LEVEL: info", "LOG_LEVEL: 3")
		}, want: []string{
			CheckSchema + "|teams/shared/settings.yaml|flux-system/backend|got number, want string",
		}},
		{name: "a file outside the artifact is not there", change: func(t *testing.T, dir string) {
			repotest.Edit(t, dir, "teams/frontend/kustomization.yaml", "  - deployment.yaml\n", "  - deployment.yaml\n  - ../shared/extra.yaml\n")
		}, want: []string{
			CheckBuild + "|clusters/prod/teams.yaml|flux-system/flux-system|lstat @artifact/../shared/extra.yaml: no such file",
		}},
		{name: "every manifest of a generated kustomization", change: func(t *testing.T, dir string) {
			repotest.Write(t, dir, "teams/backend/scratch.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scratch\ndta: {}\n")
		}, want: []string{
			CheckSchema + "|teams/backend/scratch.yaml|flux-system/backend|additional properties 'dta' not allowed",
		}},
		{name: "files .sourceignore leaves out are not in the artifact", change: func(t *testing.T, dir string) {
			repotest.Write(t, dir, "teams/backend/scratch.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scratch\ndta: {}\n")
			repotest.Write(t, dir, ".sourceignore", "teams/backend/scratch.yaml\n")
		}},
		{name: "a file kustomize cannot survive, copied into an artifact", change: func(t *testing.T, dir string) {
			repotest.Write(t, dir, "teams/backend/alias.yaml", "a: &a [*a]\n")
		}, want: []string{
			CheckYAML + "|teams/backend/alias.yaml||",
			CheckBuild + "|clusters/prod/teams.yaml|flux-system/flux-system|./backend not built: teams/backend/alias.yaml is not valid YAML",
		}},
		{name: "copy from a missing folder", change: func(t *testing.T, dir string) {
			repotest.Edit(t, dir, "clusters/prod/generator.yaml", "@fleet/teams/backend\"", "@fleet/teams/backnd\"")
		}, want: []string{
			CheckArtifactCopy + "|clusters/prod/generator.yaml|flux-system/flux-system|teams/backnd does not exist in the repository",
			CheckExternalSource + "|clusters/prod/teams.yaml|flux-system/flux-system|ExternalArtifact flux-system/backend not validated",
		}},
		{name: "copy from an undeclared source", change: func(t *testing.T, dir string) {
			repotest.Edit(t, dir, "clusters/prod/generator.yaml", "@fleet/teams/backend\"", "@flet/teams/backend\"")
		}, want: []string{
			CheckArtifactCopy + "|clusters/prod/generator.yaml|flux-system/flux-system|source alias \"flet\" is not declared in spec.sources",
			CheckExternalSource + "|clusters/prod/teams.yaml|flux-system/flux-system|ExternalArtifact flux-system/backend not validated",
		}},
		{name: "merge strategy", change: func(t *testing.T, dir string) {
			repotest.Edit(t, dir, "clusters/prod/generator.yaml", "to: \"@artifact/backend/settings.yaml\"", "to: \"@artifact/backend/settings.yaml\"\n          strategy: Merge")
		}, want: []string{
			CheckExternalSource + "|clusters/prod/generator.yaml|flux-system/flux-system|Overwrite strategy only, not Merge",
			CheckExternalSource + "|clusters/prod/teams.yaml|flux-system/flux-system|ExternalArtifact flux-system/backend not validated",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, filepath.Join("testdata", "artifacts"), dir)
			if tt.change != nil {
				tt.change(t, dir)
			}
			// The vendor artifact comes from another repository, in every case.
			tt.want = append(tt.want,
				CheckExternalSource+"|clusters/prod/generator.yaml|flux-system/flux-system|copies from source \"vendor\", which is not this repository",
				CheckExternalSource+"|clusters/prod/teams.yaml|flux-system/flux-system|ExternalArtifact flux-system/vendor not validated")
			rep := validateDir(t, dir, Opts{})
			var got []string
			for _, f := range rep.Findings {
				got = append(got, f.Check+"|"+f.File+"|"+f.Kustomization+"|"+f.Message)
			}
			for _, w := range tt.want {
				where, fragment := w[:strings.LastIndex(w, "|")+1], w[strings.LastIndex(w, "|")+1:]
				if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, where) && strings.Contains(g, fragment) }) {
					t.Errorf("no finding %q in\n%s", w, strings.Join(got, "\n"))
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("%d findings, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			// Findings on the generator point at the copy operation, those on staged files at the
			// line in the repository file.
			for _, f := range rep.Findings {
				var text string
				switch {
				case f.Check == CheckArtifactCopy:
					text = "/teams/back" // the broken copy of the backend artifact
				case f.Check == CheckSchema && f.File == "teams/frontend/deployment.yaml":
					text = "replica: 2"
				default:
					continue
				}
				if want := lineOf(t, dir, f.File, text); f.Line != want {
					t.Errorf("%s: line %d, want %d", f.Message, f.Line, want)
				}
			}
			if tt.change == nil && rep.Resources < 8 {
				t.Errorf("only %d resources built", rep.Resources)
			}
		})
	}
}

// kustomize's in-memory file system refuses folder names with spaces or commas; korthops builds a
// repository wherever it is checked out.
func TestRepositoryPathWithSpacesAndCommas(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Team Repos, 2026", "fleet")
	copyTree(t, filepath.Join("testdata", "monorepo"), dir)
	rep := validateDir(t, dir, Opts{})
	if !rep.Valid() || rep.Resources == 0 || len(rep.Clusters) != 2 {
		t.Errorf("%d clusters, %d resources, findings %+v", len(rep.Clusters), rep.Resources, rep.Findings)
	}
}

// A kustomization with its own OpenAPI schema (kustomize's openapi.path) gets strategic merges by
// key for its custom resources, as with kustomize-controller.
func TestKustomizationOpenAPIPath(t *testing.T) {
	dir := t.TempDir()
	repotest.Write(t, dir, "clusters/dev/widgets.yaml", `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: widgets
  namespace: flux-system
spec:
  interval: 10m
  path: ./widgets
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`)
	repotest.Write(t, dir, "widgets/kustomization.yaml", `resources:
  - widget.yaml
openapi:
  path: openapi.json
patches:
  - patch: |-
      apiVersion: example.io/v1
      kind: Widget
      metadata:
        name: w
      spec:
        items:
          - name: b
            value: "2"
`)
	repotest.Write(t, dir, "widgets/widget.yaml", "apiVersion: example.io/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  items:\n    - name: a\n      value: \"1\"\n")
	repotest.Write(t, dir, "widgets/openapi.json", `{"definitions": {"io.example.v1.Widget": {
  "properties": {"spec": {"properties": {"items": {"type": "array",
    "items": {"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "string"}}},
    "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}}}},
  "x-kubernetes-group-version-kind": [{"group": "example.io", "kind": "Widget", "version": "v1"}]}}}
`)
	rendered, err := newValidator(t, Opts{}).Render(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var items []any
	for _, rc := range rendered {
		for _, ks := range rc.Kustomizations {
			for _, o := range ks.Objects {
				if o.Kind == "Widget" {
					spec, _ := o.Map["spec"].(map[string]any)
					items, _ = spec["items"].([]any)
				}
			}
			for _, f := range rc.Findings {
				t.Errorf("finding %+v", f)
			}
		}
	}
	if len(items) != 2 {
		t.Errorf("items %v: want a and b merged by name", items)
	}
}
