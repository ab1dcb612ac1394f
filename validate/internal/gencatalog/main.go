// Command gencatalog builds the schema catalog that korthops embeds: the Kubernetes OpenAPI spec and
// the CRDs of the controllers korthops deploys, read from the Go module cache and converted to
// kubeconform's standalone-strict JSON Schema layout, packed as one zstd-compressed tar.
//
// Run it through `go generate ./validate`. It needs the Go module proxy once; the result is
// committed, so `korthops validate` never touches the network.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/korthops/korthops/internal/gomod"
	"github.com/korthops/korthops/validate/internal/schemaconv"
)

// Kubernetes versions of the catalog, newest (the default) first. Each comes from the
// api/openapi-spec/swagger.json of the k8s.io/kubernetes module at that version.
var kubernetesVersions = []string{"v1.37.2", "v1.36.3", "v1.35.4"}

// crdSource is a Go module whose files carry CRD YAML.
type crdSource struct {
	module, version string
	globs           []string
}

// Versions match the charts pinned in infrastructure/ and the Flux release korthops installs
// (flux2 v2.9.5; the proxy refuses notification-controller v1.9.4 and image-* v1.2.5, so the
// previous patch releases, with the same CRDs, are used).
var crdSources = []crdSource{
	{"github.com/fluxcd/source-controller", "v1.9.5", []string{"config/crd/bases/*.yaml"}},
	{"github.com/fluxcd/kustomize-controller", "v1.9.5", []string{"config/crd/bases/*.yaml"}},
	{"github.com/fluxcd/helm-controller", "v1.6.4", []string{"config/crd/bases/*.yaml"}},
	{"github.com/fluxcd/notification-controller", "v1.9.3", []string{"config/crd/bases/*.yaml"}},
	{"github.com/fluxcd/image-reflector-controller", "v1.2.4", []string{"config/crd/bases/*.yaml"}},
	{"github.com/fluxcd/image-automation-controller", "v1.2.4", []string{"config/crd/bases/*.yaml"}},
	{"github.com/cert-manager/cert-manager", "v1.21.2", []string{"deploy/crds/*.yaml"}},
	{"istio.io/api", "v1.32.0", []string{"kubernetes/customresourcedefinitions.gen.yaml"}},
	{"github.com/prometheus-operator/prometheus-operator", "v0.85.0", []string{"example/prometheus-operator-crd/*.yaml"}},
	{"github.com/traefik/traefik/v3", "v3.6.12", []string{"docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"}},
	{"sigs.k8s.io/gateway-api", "v1.6.3", []string{"config/crd/experimental/*.yaml"}},
}

// typeSource is a Go API module that carries types, not CRD YAML: controller-gen writes the CRDs
// from the types, as the project's own release does.
type typeSource struct {
	module, version, pkg string
}

// Source-watcher publishes its CRDs only as release assets; its API module, at the version flux2
// v2.9.5 installs, has the types.
var typeSources = []typeSource{
	{"github.com/fluxcd/source-watcher/api/v2", "v2.2.4", "v1beta1"},
}

// controllerTools is the controller-gen that writes the CRDs of typeSources.
const controllerTools = "v0.20.1"

func main() {
	out := flag.String("o", "schemas.tar.zst", "output archive; its index is written beside it, as .json")
	flag.Parse()
	files := map[string][]byte{}
	var objectMeta map[string]any
	for i, v := range kubernetesVersions {
		dir, err := moduleDir("k8s.io/kubernetes", v)
		if err != nil {
			log.Fatal(err)
		}
		spec, err := os.ReadFile(filepath.Join(dir, "api", "openapi-spec", "swagger.json"))
		if err != nil {
			log.Fatal(err)
		}
		schemas, meta, err := schemaconv.Swagger(spec)
		if err != nil {
			log.Fatalf("kubernetes %s: %v", v, err)
		}
		if i == 0 {
			objectMeta = meta
			if files[schemaconv.ObjectMetaFile], err = json.Marshal(meta); err != nil {
				log.Fatal(err)
			}
		}
		for name, s := range schemas {
			files[path.Join(v+"-standalone-strict", name)] = s
		}
		log.Printf("kubernetes %s: %d schemas", v, len(schemas))
	}
	for _, src := range crdSources {
		dir, err := moduleDir(src.module, src.version)
		if err != nil {
			log.Fatal(err)
		}
		n := 0
		for _, g := range src.globs {
			matches, err := filepath.Glob(filepath.Join(dir, g))
			if err != nil || len(matches) == 0 {
				log.Fatalf("%s@%s: no files match %s", src.module, src.version, g)
			}
			for _, m := range matches {
				data, err := os.ReadFile(m)
				if err != nil {
					log.Fatal(err)
				}
				schemas, err := schemaconv.CRDs(data, objectMeta)
				if err != nil {
					log.Fatalf("%s: %v", m, err)
				}
				for name, s := range schemas {
					files[path.Join("crds", name)] = s
					n++
				}
			}
		}
		log.Printf("%s@%s: %d schemas", src.module, src.version, n)
	}
	for _, src := range typeSources {
		crds, err := controllerGen(src)
		if err != nil {
			log.Fatalf("%s@%s: %v", src.module, src.version, err)
		}
		n := 0
		for _, data := range crds {
			schemas, err := schemaconv.CRDs(data, objectMeta)
			if err != nil {
				log.Fatalf("%s@%s: %v", src.module, src.version, err)
			}
			for name, s := range schemas {
				files[path.Join("crds", name)] = s
				n++
			}
		}
		log.Printf("%s@%s (controller-gen %s): %d schemas", src.module, src.version, controllerTools, n)
	}
	if err := writeTarZst(*out, files); err != nil {
		log.Fatal(err)
	}
	if err := writeIndex(strings.TrimSuffix(*out, ".tar.zst")+".json", files); err != nil {
		log.Fatal(err)
	}
}

// controllerGen runs controller-gen over the API package in a scratch module that requires it, and
// returns the CRD files it writes.
func controllerGen(src typeSource) ([][]byte, error) {
	work, err := os.MkdirTemp("", "gencatalog-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	pkg := src.module + "/" + src.pkg
	goMod := "module gencatalog\n\ngo 1.26\n"
	tools := fmt.Sprintf("//go:build tools\n\npackage tools\n\nimport (\n\t_ %q\n\t_ \"sigs.k8s.io/controller-tools/cmd/controller-gen\"\n)\n", pkg)
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(goMod), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(work, "tools.go"), []byte(tools), 0o644); err != nil {
		return nil, err
	}
	out := filepath.Join(work, "crds")
	for _, args := range [][]string{
		{"get", src.module + "@" + src.version, "sigs.k8s.io/controller-tools@" + controllerTools},
		{"mod", "tidy"},
		{"run", "sigs.k8s.io/controller-tools/cmd/controller-gen", "crd", "paths=" + pkg, "output:crd:dir=" + out},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, msg)
		}
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return nil, err
	}
	var crds [][]byte
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(out, e.Name()))
		if err != nil {
			return nil, err
		}
		crds = append(crds, data)
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("controller-gen wrote no CRD for %s", pkg)
	}
	return crds, nil
}

func moduleDir(module, version string) (string, error) {
	m, err := gomod.Download(module, version)
	return m.Dir, err
}

// index lists what the archive holds, so korthops can answer `schemas list` and resolve versions
// without decompressing the archive.
type index struct {
	Kubernetes []string      `json:"kubernetes"`
	Schemas    []indexSchema `json:"schemas"`
}

type indexSchema struct {
	File       string `json:"file"`
	Kubernetes string `json:"kubernetes,omitempty"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

func writeIndex(name string, files map[string][]byte) error {
	idx := index{}
	for _, v := range kubernetesVersions {
		idx.Kubernetes = append(idx.Kubernetes, strings.TrimPrefix(v, "v"))
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		top, _, _ := strings.Cut(n, "/")
		if top != "crds" && !strings.HasSuffix(top, "-standalone-strict") {
			continue
		}
		var s struct {
			Properties struct {
				APIVersion, Kind struct{ Enum []string }
			}
		}
		if err := json.Unmarshal(files[n], &s); err != nil || len(s.Properties.Kind.Enum) != 1 || len(s.Properties.APIVersion.Enum) != 1 {
			return fmt.Errorf("%s: schema not pinned to one apiVersion and kind", n)
		}
		e := indexSchema{File: n, APIVersion: s.Properties.APIVersion.Enum[0], Kind: s.Properties.Kind.Enum[0]}
		if top != "crds" {
			e.Kubernetes = strings.TrimPrefix(strings.TrimSuffix(top, "-standalone-strict"), "v")
		}
		idx.Schemas = append(idx.Schemas, e)
	}
	data, err := json.MarshalIndent(idx, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(name, append(data, '\n'), 0o644)
}

func writeTarZst(name string, files map[string][]byte) error {
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(64<<20))
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	raw := 0
	for _, f := range files {
		raw += len(f)
	}
	log.Printf("%d schemas, %d MB raw, %d KB compressed", len(files), raw>>20, buf.Len()>>10)
	return os.WriteFile(name, buf.Bytes(), fs.FileMode(0o644))
}
