// Package layout is the repository model: it knows where clusters, bases and overlays live, discovers
// every kustomization root of a repository, and scaffolds new repositories and clusters. No other
// package hard-codes a folder name of the repository.
package layout

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Folder names of a korthops repository. They are unexported: other packages ask a Repo for paths.
const (
	clustersDir       = "clusters"
	infrastructureDir = "infrastructure"
	appsDir           = "apps"
	overlaysDir       = "overlays"
	fluxSystemDir     = "flux-system"
	settingsFile      = "cluster-settings.yaml"
	markerFile        = "korthops.yaml"
)

// ErrNotFound is returned when a named cluster does not exist in the repository.
var ErrNotFound = errors.New("not found")

// Repo is a GitOps repository on disk.
type Repo struct {
	root string
	// failCommitAt lets tests make the index-th file change of a transaction fail.
	failCommitAt func(index int) bool
}

// Open returns the repository rooted at dir. The directory must exist; it need not be a korthops
// repository, so that any Flux repository can be discovered and validated.
func Open(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", dir, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("open repository: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("open repository: %s is not a directory", abs)
	}
	return &Repo{root: abs}, nil
}

// Root is the absolute path of the repository.
func (r *Repo) Root() string { return r.root }

// IsKorthops reports whether the repository was initialised by korthops.
func (r *Repo) IsKorthops() bool {
	_, err := os.Stat(filepath.Join(r.root, markerFile))
	return err == nil
}

// ClustersDir is the folder that holds one entry-point folder per cluster.
func (r *Repo) ClustersDir() string { return filepath.Join(r.root, clustersDir) }

// ClusterDir is the Flux entry point of one cluster: the path a bootstrap points Flux at.
func (r *Repo) ClusterDir(name string) string { return filepath.Join(r.root, clustersDir, name) }

// FluxSystemDir is where bootstrap writes the Flux install and sync manifests of a cluster.
func (r *Repo) FluxSystemDir(name string) string {
	return filepath.Join(r.root, clustersDir, name, fluxSystemDir)
}

// Rel returns path relative to the repository root, with forward slashes, for messages and for
// Flux paths ("./clusters/onprem").
func (r *Repo) Rel(path string) string {
	rel, err := filepath.Rel(r.root, path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(rel)
}

// Cluster is a cluster managed by korthops, with the settings read back from the repository.
type Cluster struct {
	Settings
	// Dir is the cluster's entry-point folder.
	Dir string
	// Bootstrapped is true once bootstrap has written the cluster's flux-system folder.
	Bootstrapped bool
}

// Clusters lists the korthops clusters of the repository, sorted by name. Folders under clusters/
// without korthops settings (hand-written Flux entry points) are not korthops clusters and are left
// out; validation discovers them separately.
func (r *Repo) Clusters() ([]Cluster, error) {
	entries, err := os.ReadDir(r.ClustersDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list clusters: %w", err)
	}
	var out []Cluster
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c, err := r.Cluster(e.Name())
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Cluster reads one cluster's settings back from the repository.
func (r *Repo) Cluster(name string) (Cluster, error) {
	if err := validateName(name); err != nil {
		return Cluster{}, err
	}
	path := filepath.Join(r.ClusterDir(name), settingsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Cluster{}, fmt.Errorf("cluster %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return Cluster{}, fmt.Errorf("read cluster %q: %w", name, err)
	}
	s, err := parseSettings(data)
	if err != nil {
		return Cluster{}, fmt.Errorf("%s: %w", r.Rel(path), err)
	}
	if s.Name != name {
		return Cluster{}, fmt.Errorf("%s: data.%s is %q, want the folder name %q", r.Rel(path), keyName, s.Name, name)
	}
	_, err = os.Stat(r.FluxSystemDir(name))
	return Cluster{Settings: s, Dir: r.ClusterDir(name), Bootstrapped: err == nil}, nil
}
