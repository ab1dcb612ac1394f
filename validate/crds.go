package validate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/korthops/korthops/validate/internal/schemaconv"
)

func (c *Catalog) objectMeta() (map[string]any, error) {
	data, err := c.readFile(schemaconv.ObjectMetaFile)
	if err != nil {
		return nil, err
	}
	var meta map[string]any
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", schemaconv.ObjectMetaFile, err)
	}
	return meta, nil
}

// repositoryCRDLocations converts the CustomResourceDefinitions found in the built manifests to
// schemas in dir, so the repository's own custom resources are validated against the CRDs it
// ships. They come first: they are what the cluster will serve.
func (r *run) repositoryCRDLocations(dir string) ([]string, error) {
	n := 0
	for _, o := range r.objects {
		if o.kind != "CustomResourceDefinition" || o.group() != "apiextensions.k8s.io" {
			continue
		}
		schemas, err := schemaconv.CRDs(o.json, r.v.objectMeta)
		if err != nil {
			r.add(o.finding(CheckSchema, nil, fmt.Sprintf("convert CRD to a schema: %v", err)))
			continue
		}
		for name, data := range schemas {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				return nil, err
			}
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	return []string{filepath.Join(dir, "{{ .Group }}", "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json")}, nil
}
