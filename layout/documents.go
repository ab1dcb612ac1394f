package layout

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds the YAML files korthops reads; larger files are reported, not parsed.
const MaxFileSize = 8 << 20

// Document is one YAML document of a repository file.
type Document struct {
	File   string // slash path relative to the repository root
	Index  int    // position of the document in the file, from 0
	Line   int    // first line of the document
	Object map[string]any
}

// APIVersion, Kind, Namespace and Name read the document's identity.
func (d Document) APIVersion() string { s, _ := d.Object["apiVersion"].(string); return s }
func (d Document) Kind() string       { s, _ := d.Object["kind"].(string); return s }
func (d Document) Name() string       { return metaField(d.Object, "name") }
func (d Document) Namespace() string  { return metaField(d.Object, "namespace") }

func metaField(obj map[string]any, key string) string {
	meta, _ := obj["metadata"].(map[string]any)
	s, _ := meta[key].(string)
	return s
}

// IsFluxKustomization reports whether the document is a Flux Kustomization (not a kustomize one).
func (d Document) IsFluxKustomization() bool {
	return d.Kind() == "Kustomization" && strings.HasPrefix(d.APIVersion(), "kustomize.toolkit.fluxcd.io/")
}

// FluxPath is the spec.path of a Flux Kustomization, cleaned and relative to the repository root
// ("." for the root).
func (d Document) FluxPath() string {
	spec, _ := d.Object["spec"].(map[string]any)
	p, _ := spec["path"].(string)
	return CleanFluxPath(p)
}

// CleanFluxPath turns a Flux spec.path ("./apps/prod", "apps/prod/", "") into a clean relative path.
func CleanFluxPath(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// FileError is a file that could not be read or parsed.
type FileError struct {
	File string
	Line int
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

// Documents parses every YAML file that Flux would see. Files that are not valid YAML are returned
// as FileErrors, with the line where parsing stopped; the other files are still parsed.
func (r *Repo) Documents() ([]Document, []*FileError, error) {
	files, err := r.Files()
	if err != nil {
		return nil, nil, err
	}
	var docs []Document
	var ferrs []*FileError
	for _, f := range files {
		if ext := path.Ext(f); ext != ".yaml" && ext != ".yml" {
			continue
		}
		d, ferr := r.parseFile(f)
		if ferr != nil {
			ferrs = append(ferrs, ferr)
			continue
		}
		docs = append(docs, d...)
	}
	return docs, ferrs, nil
}

func (r *Repo) parseFile(rel string) ([]Document, *FileError) {
	abs := r.abs(rel)
	if err := r.checkInside(abs); err != nil {
		return nil, &FileError{File: rel, Err: err}
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, &FileError{File: rel, Err: err}
	}
	if st.Size() > MaxFileSize {
		return nil, &FileError{File: rel, Err: fmt.Errorf("file is %d bytes, larger than the %d bytes korthops reads", st.Size(), MaxFileSize)}
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, &FileError{File: rel, Err: err}
	}
	nodes, err := ParseYAML(data)
	if err != nil {
		return nil, &FileError{File: rel, Line: errorLine(err), Err: err}
	}
	var docs []Document
	for i, n := range nodes {
		if n.Kind != yaml.MappingNode {
			continue // a list or a scalar is not a Kubernetes object
		}
		var obj map[string]any
		if err := n.Decode(&obj); err != nil {
			return nil, &FileError{File: rel, Line: errorLine(err), Err: err}
		}
		if obj == nil {
			continue
		}
		docs = append(docs, Document{File: rel, Index: i, Line: n.Line, Object: obj})
	}
	return docs, nil
}

// checkInside refuses a path whose real location (after symbolic links) is outside the repository.
func (r *Repo) checkInside(abs string) error {
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return err
	}
	root, err := filepath.EvalSymlinks(r.root)
	if err != nil {
		return err
	}
	if real != root && !strings.HasPrefix(real, root+string(filepath.Separator)) {
		return fmt.Errorf("symbolic link leads outside the repository, to %s", real)
	}
	return nil
}

// ParseYAML decodes every document of a YAML stream into nodes. Duplicate keys are errors, as
// kubectl and the API server treat them.
func ParseYAML(data []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var nodes []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return nodes, nil
		}
		if err != nil {
			return nil, err
		}
		if len(n.Content) == 0 {
			continue
		}
		nodes = append(nodes, n.Content[0])
	}
}

// errorLine extracts the line number yaml.v3 puts in its messages ("yaml: line 12: ...").
func errorLine(err error) int {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	var line int
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i+5:], "%d", &line)
	}
	return line
}

// EntryPoints finds the cluster entry points of a repository: the folders whose Flux
// Kustomizations are not applied by another Flux Kustomization of the repository (or only by a
// Kustomization inside the folder itself, as bootstrap's flux-system does). Nested candidates are
// folded into the outermost one, as Flux's generated kustomization takes in sub-folders.
func EntryPoints(docs []Document) []string {
	type ks struct{ dir, path string }
	var all []ks
	for _, d := range docs {
		if d.IsFluxKustomization() {
			all = append(all, ks{dir: path.Dir(d.File), path: d.FluxPath()})
		}
	}
	within := func(dir, root string) bool {
		return root == "." || dir == root || strings.HasPrefix(dir, root+"/")
	}
	var candidates []string
	for _, k := range all {
		applied := false
		for _, other := range all {
			if within(k.dir, other.path) && !within(other.dir, other.path) {
				applied = true
				break
			}
		}
		if !applied {
			candidates = append(candidates, k.dir)
		}
		if within(k.dir, k.path) {
			candidates = append(candidates, k.path)
		}
	}
	slices.Sort(candidates)
	candidates = slices.Compact(candidates)
	var out []string
	for _, c := range candidates {
		nested := slices.ContainsFunc(out, func(o string) bool { return within(c, o) })
		if !nested {
			out = append(out, c)
		}
	}
	return out
}
