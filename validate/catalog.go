package validate

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
)

//go:generate go run ./internal/gencatalog -o schemas.tar.zst

// catalogArchive is the offline schema catalog: core Kubernetes for several minor versions and the
// CRDs of Flux, cert-manager, Istio, prometheus-operator, Traefik and Gateway API.
//
//go:embed schemas.tar.zst
var catalogArchive []byte

const (
	coreSuffix = "-standalone-strict"
	crdsDir    = "crds"
)

// Catalog is the embedded schema catalog, extracted to disk because kubeconform reads schemas from
// paths or URLs only.
type Catalog struct {
	dir string
}

// OpenCatalog extracts the embedded catalog into a content-addressed folder under cacheDir, once;
// concurrent runs are safe because the folder appears by an atomic rename.
func OpenCatalog(cacheDir string) (*Catalog, error) {
	sum := sha256.Sum256(catalogArchive)
	dir := filepath.Join(cacheDir, "schemas-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, crdsDir)); err == nil {
		return &Catalog{dir: dir}, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("schema cache: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".schemas-*")
	if err != nil {
		return nil, fmt.Errorf("schema cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	err = readCatalog(func(name string, data []byte) error {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, data, 0o644)
	})
	if err != nil {
		return nil, fmt.Errorf("extract schema catalog: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run won the race: its copy is identical.
		if _, statErr := os.Stat(filepath.Join(dir, crdsDir)); statErr != nil {
			return nil, fmt.Errorf("schema cache: %w", err)
		}
	}
	return &Catalog{dir: dir}, nil
}

// readCatalog calls fn for every file of the embedded archive.
func readCatalog(fn func(name string, data []byte) error) error {
	zr, err := zstd.NewReader(bytes.NewReader(catalogArchive))
	if err != nil {
		return err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg || !fs.ValidPath(hdr.Name) {
			return fmt.Errorf("unexpected archive entry %q", hdr.Name)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := fn(hdr.Name, data); err != nil {
			return err
		}
	}
}

// Dir is where the catalog was extracted.
func (c *Catalog) Dir() string { return c.dir }

// Locations are the kubeconform schema locations of the catalog.
func (c *Catalog) Locations() []string {
	return []string{
		filepath.Join(c.dir, "{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}", "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
		filepath.Join(c.dir, crdsDir, "{{ .Group }}", "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"),
	}
}

//go:embed schemas.json
var catalogIndexJSON []byte

type catalogIndex struct {
	Kubernetes []string     `json:"kubernetes"`
	Schemas    []SchemaInfo `json:"schemas"`
}

func readIndex() catalogIndex {
	var idx catalogIndex
	if err := json.Unmarshal(catalogIndexJSON, &idx); err != nil {
		panic(fmt.Sprintf("embedded schema index: %v", err)) // generated and committed: a build defect
	}
	return idx
}

// KubernetesVersions lists the Kubernetes versions of the catalog, newest first.
func KubernetesVersions() []string {
	versions := readIndex().Kubernetes
	slices.SortFunc(versions, func(a, b string) int { return compareVersions(b, a) })
	return versions
}

// DefaultKubernetesVersion is the newest Kubernetes version of the catalog.
func DefaultKubernetesVersion() string { return KubernetesVersions()[0] }

// ResolveKubernetesVersion maps "1.36", "v1.36" or "1.36.3" to a version of the catalog.
func ResolveKubernetesVersion(want string) (string, error) {
	versions := KubernetesVersions()
	if want == "" {
		return versions[0], nil
	}
	want = strings.TrimPrefix(want, "v")
	for _, v := range versions {
		if v == want || strings.HasPrefix(v, want+".") {
			return v, nil
		}
	}
	return "", fmt.Errorf("kubernetes version %q: the catalog has %s", want, strings.Join(versions, ", "))
}

func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		var x, y int
		fmt.Sscan(as[i], &x)
		fmt.Sscan(bs[i], &y)
		if x != y {
			return x - y
		}
	}
	return len(as) - len(bs)
}

// SchemaInfo describes one schema of the catalog.
type SchemaInfo struct {
	// File is the schema's path in the catalog.
	File string `json:"file"`
	// Kubernetes is the Kubernetes version of a core schema; empty for CRDs, which serve every version.
	Kubernetes string `json:"kubernetes,omitempty"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// ListSchemas lists the kinds and versions the catalog covers.
func ListSchemas() []SchemaInfo { return readIndex().Schemas }

// ExportSchemas writes the catalog into dir in kubeconform's file layout; plain kubeconform then
// uses it with the two -schema-location values that ExportLocations returns.
func ExportSchemas(dir string) error {
	return readCatalog(func(name string, data []byte) error {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, data, 0o644)
	})
}

// ExportLocations are the kubeconform -schema-location values for a catalog exported to dir.
func ExportLocations(dir string) []string { return (&Catalog{dir: dir}).Locations() }

// readDir reads a file of the extracted catalog.
func (c *Catalog) readFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(c.dir, filepath.FromSlash(name)))
}
