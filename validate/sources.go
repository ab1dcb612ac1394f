package validate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/korthops/korthops/layout"
	"gopkg.in/yaml.v3"
)

// sourceIndex maps built resources back to lines of their source files. Files are parsed once,
// on the first finding that needs them.
type sourceIndex struct {
	repo  *layout.Repo
	mu    sync.Mutex
	files map[string]*sourceFile
}

type sourceFile struct {
	data []byte
	docs []*yaml.Node
}

func newSourceIndex(repo *layout.Repo) *sourceIndex {
	return &sourceIndex{repo: repo, files: map[string]*sourceFile{}}
}

func (s *sourceIndex) file(rel string) *sourceFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.files[rel]; ok {
		return f
	}
	f := &sourceFile{}
	if data, err := os.ReadFile(filepath.Join(s.repo.Root(), filepath.FromSlash(rel))); err == nil && len(data) <= layout.MaxFileSize {
		f.data = data
		f.docs, _ = layout.ParseYAML(data)
	}
	s.files[rel] = f
	return f
}

// line finds the line of field in the object's source document: the document with the same kind
// and name (else the only one of that kind), then the deepest node of the field path that exists
// in the source (a field added by a patch points at its parent).
func (s *sourceIndex) line(o *object, field []string) int {
	f := s.file(o.file)
	var doc *yaml.Node
	var sameKind []*yaml.Node
	for _, d := range f.docs {
		if scalar(d, "kind") != o.kind {
			continue
		}
		sameKind = append(sameKind, d)
		if _, meta := child(d, "metadata"); meta != nil && scalar(meta, "name") == o.name {
			doc = d
			break
		}
	}
	if doc == nil && len(sameKind) > 0 {
		doc = sameKind[0]
	}
	if doc == nil {
		if len(f.docs) > 0 {
			return f.docs[0].Line
		}
		return 0
	}
	node, line := doc, doc.Line
	for _, seg := range field {
		key, next := child(node, seg)
		if next == nil {
			break
		}
		node, line = next, key.Line
	}
	return line
}

// lineOf returns the first line of a file that contains text, or 0.
func (s *sourceIndex) lineOf(rel, text string) int {
	f := s.file(rel)
	i := bytes.Index(f.data, []byte(text))
	if i < 0 {
		return 0
	}
	return bytes.Count(f.data[:i], []byte("\n")) + 1
}

// child returns the node that names a mapping key or a sequence item (for its line) and the value.
func child(n *yaml.Node, seg string) (key, value *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				return n.Content[i], n.Content[i+1]
			}
		}
	case yaml.SequenceNode:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(n.Content) {
			return n.Content[i], n.Content[i]
		}
	}
	return nil, nil
}

func scalar(n *yaml.Node, key string) string {
	if _, c := child(n, key); c != nil && c.Kind == yaml.ScalarNode {
		return c.Value
	}
	return ""
}

func readFile(path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("no kustomization file")
	}
	return os.ReadFile(path)
}
