package layout

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	korthops "github.com/korthops/korthops"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// Folders of the bases, relative to the repository root.
var (
	controllersBase = path.Join(infrastructureDir, "controllers")
	configsBase     = path.Join(infrastructureDir, "configs")
	appsBase        = path.Join(appsDir, "base")
	componentsBase  = path.Join(appsDir, "components")
)

const markerContent = `# This repository is maintained by korthops.
# clusters/        one Flux entry point per cluster (korthops cluster add NAME)
# infrastructure/  controllers and configs: bases and per-cluster overlays
# apps/            Orthanc and PostgreSQL: bases, ingress components and per-cluster overlays
apiVersion: korthops.dev/v1alpha1
kind: Repository
`

// EditedError reports generated files that were changed by hand since korthops wrote them. They are
// never overwritten silently.
type EditedError struct {
	Files []string
}

func (e *EditedError) Error() string {
	return fmt.Sprintf("%d file(s) changed by hand since korthops generated them, nothing written: %s",
		len(e.Files), strings.Join(e.Files, ", "))
}

// Change is one file a scaffolding operation wrote or deleted, relative to the repository root.
type Change struct {
	Path    string
	Deleted bool
}

// Init writes the bases and the repository marker into dir, which must be empty, missing, or
// already a korthops repository. Files that already hold the expected content are left alone; a
// base file edited by hand stops the operation before anything is written.
func Init(dir string) (*Repo, []Change, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("init %s: %w", dir, err)
	}
	r, err := Open(dir)
	if err != nil {
		return nil, nil, err
	}
	if !r.IsKorthops() {
		entries, err := os.ReadDir(r.root)
		if err != nil {
			return nil, nil, fmt.Errorf("init %s: %w", r.root, err)
		}
		for _, e := range entries {
			if e.Name() != ".git" {
				return nil, nil, fmt.Errorf("init %s: directory is not empty and is not a korthops repository (no %s)", r.root, markerFile)
			}
		}
	}
	files, err := baseFiles()
	if err != nil {
		return nil, nil, err
	}
	files[markerFile] = []byte(markerContent)
	changes, err := r.reconcile(files, files, false)
	return r, changes, err
}

func baseFiles() (map[string][]byte, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(korthops.Bases, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := korthops.Bases.ReadFile(p)
		files[p] = data
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded bases: %w", err)
	}
	return files, nil
}

// AddOptions tune AddCluster.
type AddOptions struct {
	// Force changes the settings of an existing cluster. Files edited by hand still stop it.
	Force bool
}

// AddCluster writes a cluster's entry point and overlays. Adding a cluster again with the same
// settings changes nothing; different settings need Force.
func (r *Repo) AddCluster(s Settings, opts AddOptions) ([]Change, error) {
	if !r.IsKorthops() {
		return nil, fmt.Errorf("%s is not a korthops repository: run korthops init first", r.root)
	}
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	next, err := render(s)
	if err != nil {
		return nil, err
	}
	prev := next
	existing, err := r.Cluster(s.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		// A new cluster: any file already in its place was not written by korthops.
		prev = nil
	case err != nil:
		return nil, err
	case existing.Settings != s && !opts.Force:
		return nil, fmt.Errorf("cluster %q already exists with different settings (%s); use --force to change them",
			s.Name, existing.Settings.describe())
	case existing.Settings != s:
		if prev, err = render(existing.Settings); err != nil {
			return nil, err
		}
	}
	return r.reconcile(prev, next, false)
}

// RemoveCluster deletes the files korthops generated for a cluster. A bootstrapped cluster or a
// generated file edited by hand stops it unless force is set.
func (r *Repo) RemoveCluster(name string, force bool) ([]Change, error) {
	c, err := r.Cluster(name)
	if err != nil {
		return nil, err
	}
	if c.Bootstrapped && !force {
		return nil, fmt.Errorf("cluster %q is bootstrapped (%s exists): remove Flux from the cluster first, or use --force",
			name, r.Rel(r.FluxSystemDir(name)))
	}
	prev, err := render(c.Settings)
	if err != nil {
		return nil, err
	}
	return r.reconcile(prev, nil, force)
}

func (s Settings) describe() string {
	return fmt.Sprintf("provider %s, ingress %s, domain %s, storage class %s, replicas %d",
		s.Provider, s.Ingress, s.Domain, s.StorageClass, s.Replicas)
}

// reconcile moves the tree from the files korthops generated before (prev) to the files it
// generates now (next), touching only files that still hold what korthops wrote. prev == nil means
// nothing was generated before. With overwrite, hand edits are replaced or deleted too.
func (r *Repo) reconcile(prev, next map[string][]byte, overwrite bool) ([]Change, error) {
	paths := slices.Sorted(maps.Keys(next))
	for p := range prev {
		if _, ok := next[p]; !ok {
			paths = append(paths, p)
		}
	}
	var ops []op
	var edited []string
	for _, p := range paths {
		disk, err := os.ReadFile(filepath.Join(r.root, filepath.FromSlash(p)))
		exists := err == nil
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		want, keep := next[p]
		was, generated := prev[p]
		switch {
		case keep && exists && bytes.Equal(disk, want):
			continue
		case !keep && !exists:
			continue
		case exists && !overwrite && !(generated && bytes.Equal(disk, was)):
			edited = append(edited, p)
			continue
		}
		ops = append(ops, op{rel: p, data: want, remove: !keep, old: disk, existed: exists})
	}
	if len(edited) > 0 {
		return nil, &EditedError{Files: edited}
	}
	if err := r.apply(ops); err != nil {
		return nil, err
	}
	changes := make([]Change, len(ops))
	for i, o := range ops {
		changes[i] = Change{Path: o.rel, Deleted: o.remove}
	}
	return changes, nil
}

type item struct{ Key, Value string }

func sortedItems(m map[string]string) []item {
	var out []item
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, item{k, m[k]})
	}
	return out
}

// render returns every file korthops generates for one cluster, keyed by slash path.
func render(s Settings) (map[string][]byte, error) {
	tmpl, err := template.New("").Option("missingkey=error").ParseFS(templateFS, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse templates: %w", err)
	}
	clusterDir := path.Join(clustersDir, s.Name)
	controllers := path.Join(infrastructureDir, overlaysDir, s.Name, "controllers")
	configs := path.Join(infrastructureDir, overlaysDir, s.Name, "configs")
	apps := path.Join(appsDir, overlaysDir, s.Name)
	ingressRelease := map[string]string{IngressIstio: "istio-ingressgateway", IngressTraefik: "traefik"}[s.Ingress]
	data := map[string]any{
		"Name": s.Name, "Provider": s.Provider, "Ingress": s.Ingress, "Domain": s.Domain,
		"StorageClass": s.StorageClass, "Replicas": s.Replicas,
		"Data":            sortedItems(s.data()),
		"LBAnnotations":   sortedItems(providers()[s.Provider].lbAnnotations),
		"IngressRelease":  ingressRelease,
		"ControllersPath": controllers, "ConfigsPath": configs, "AppsPath": apps,
		"ControllersBase": relPath(controllers, controllersBase),
		"ConfigsBase":     relPath(configs, configsBase),
		"AppsBase":        relPath(apps, appsBase),
		"ComponentsBase":  relPath(apps, componentsBase),
	}
	outputs := map[string]string{
		path.Join(clusterDir, settingsFile):          "cluster-settings.yaml.tmpl",
		path.Join(clusterDir, "infrastructure.yaml"): "infrastructure.yaml.tmpl",
		path.Join(clusterDir, "apps.yaml"):           "apps.yaml.tmpl",
		path.Join(controllers, "kustomization.yaml"): "infrastructure-controllers.yaml.tmpl",
		path.Join(configs, "kustomization.yaml"):     "infrastructure-configs.yaml.tmpl",
		path.Join(apps, "kustomization.yaml"):        "apps.kustomization.yaml.tmpl",
	}
	files := map[string][]byte{}
	for out, name := range outputs {
		var buf bytes.Buffer
		if err := tmpl.ExecuteTemplate(&buf, name, data); err != nil {
			return nil, fmt.Errorf("render %s: %w", out, err)
		}
		files[out] = buf.Bytes()
	}
	return files, nil
}

func relPath(from, to string) string {
	rel, err := filepath.Rel(filepath.FromSlash(from), filepath.FromSlash(to))
	if err != nil {
		panic(err) // both are relative paths under the root: cannot fail
	}
	return filepath.ToSlash(rel)
}
