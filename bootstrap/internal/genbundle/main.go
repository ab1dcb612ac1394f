// Command genbundle rebuilds the Flux install bundle that korthops embeds, offline, from Go
// modules: the controllers' config/crd and config/manager, and flux2's manifests/ (bases, rbac,
// policies). The output has the layout of the manifests.tar.gz of a Flux release, which
// flux2's pkg/manifestgen/install then turns into gotk-components.yaml without a download.
//
// Run it through `go generate ./bootstrap`.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/korthops/korthops/internal/gomod"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// FluxVersion is the Flux release the bundle reproduces.
const FluxVersion = "v2.9.5"

// component is one controller: the module its CRDs and Deployment come from, and the image tag
// that flux2 v2.9.5 ships. The proxy refuses notification-controller v1.9.4, so its manifests come
// from v1.9.3 (same CRDs and Deployment) with the v1.9.4 image.
type component struct {
	name, module, version, image string
}

var components = []component{
	{"source-controller", "github.com/fluxcd/source-controller", "v1.9.5", "v1.9.5"},
	{"kustomize-controller", "github.com/fluxcd/kustomize-controller", "v1.9.5", "v1.9.5"},
	{"helm-controller", "github.com/fluxcd/helm-controller", "v1.6.4", "v1.6.4"},
	{"notification-controller", "github.com/fluxcd/notification-controller", "v1.9.3", "v1.9.4"},
}

func main() {
	out := flag.String("o", "manifests", "output folder")
	flag.Parse()
	flux, err := moduleDir("github.com/fluxcd/flux2/v2", FluxVersion)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, c := range components {
		dir, err := moduleDir(c.module, c.version)
		if err != nil {
			log.Fatal(err)
		}
		data, err := buildComponent(c, dir, filepath.Join(flux, "manifests", "bases", c.name))
		if err != nil {
			log.Fatalf("%s: %v", c.name, err)
		}
		write(*out, c.name+".yaml", data)
	}
	for _, name := range []string{"rbac", "policies"} {
		data, err := build(filesys.MakeFsOnDisk(), filepath.Join(flux, "manifests", name))
		if err != nil {
			log.Fatalf("%s: %v", name, err)
		}
		write(*out, name+".yaml", data)
	}
	write(*out, "VERSION", []byte(FluxVersion+"\n"))
}

func write(dir, name string, data []byte) {
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%s: %d bytes", name, len(data))
}

// buildComponent builds flux2's base for one controller with the release assets it points at
// (crds.yaml and deployment.yaml) built from the controller's module instead of downloaded.
func buildComponent(c component, moduleDir, base string) ([]byte, error) {
	disk := filesys.MakeFsOnDisk()
	crds, err := build(disk, filepath.Join(moduleDir, "config", "crd"))
	if err != nil {
		return nil, fmt.Errorf("crds: %w", err)
	}
	deployment, err := build(disk, filepath.Join(moduleDir, "config", "manager"))
	if err != nil {
		return nil, fmt.Errorf("deployment: %w", err)
	}
	deployment = []byte(strings.ReplaceAll(string(deployment), "fluxcd/"+c.name+":"+c.version, "fluxcd/"+c.name+":"+c.image))

	mem := filesys.MakeFsInMemory()
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(base, e.Name()))
		if err != nil {
			return nil, err
		}
		if e.Name() == "kustomization.yaml" {
			var lines []string
			for _, l := range strings.Split(string(data), "\n") {
				switch {
				case strings.HasPrefix(l, "- https://") && strings.HasSuffix(l, ".crds.yaml"):
					l = "- crds.yaml"
				case strings.HasPrefix(l, "- https://") && strings.HasSuffix(l, ".deployment.yaml"):
					l = "- deployment.yaml"
				case strings.Contains(l, "https://"):
					return nil, fmt.Errorf("unexpected remote resource in %s: %s", base, l)
				}
				lines = append(lines, l)
			}
			data = []byte(strings.Join(lines, "\n"))
		}
		if err := mem.WriteFile(filepath.Join("/base", e.Name()), data); err != nil {
			return nil, err
		}
	}
	if err := mem.WriteFile("/base/crds.yaml", crds); err != nil {
		return nil, err
	}
	if err := mem.WriteFile("/base/deployment.yaml", deployment); err != nil {
		return nil, err
	}
	return build(mem, "/base")
}

func build(fs filesys.FileSystem, dir string) ([]byte, error) {
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, dir)
	if err != nil {
		return nil, err
	}
	return res.AsYaml()
}

func moduleDir(module, version string) (string, error) {
	m, err := gomod.Download(module, version)
	return m.Dir, err
}
