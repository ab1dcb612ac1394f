package validate

import (
	"encoding/binary"
	"hash/maphash"
	"path/filepath"
	"strings"
	"sync"

	kustfs "sigs.k8s.io/kustomize/kyaml/filesys"
)

// buildCache remembers the kustomize builds of one run. A build is a pure function of its
// kustomization and of the answers the file system gave it, so a build whose kustomization is the
// same and whose every file-system query, asked relative to its own folder, gets the same answer
// as an earlier build's, has that build's result. A fleet whose overlays differ only in their
// postBuild variables (the point of substituteFrom) builds each distinct overlay once.
//
// The cache lives for one Validate call: nothing is kept between runs, so an edit is never missed.
type buildCache struct {
	mu      sync.Mutex
	entries map[string][]*cachedBuild // by generated kustomization
	// answers holds each distinct answer once: every build of a fleet reads the same bases.
	answers map[string]string
	// seeds key the 128-bit digests that stand for file contents in answers: a seeded hash, so
	// no file can be crafted to collide with another.
	seeds [2]maphash.Seed
	hits  int
}

// maxCandidates bounds the builds kept per kustomization, and so the replays a lookup tries.
const maxCandidates = 8

type cachedBuild struct {
	queries   []fsQuery
	resources []builtResource
}

type fsOp uint8

const (
	opExists fsOp = iota
	opIsDir
	opReadFile
	opReadDir
	opCleanedAbs
	opGlob
)

// fsQuery is one question kustomize asked the file system, with a path relative to the build
// folder and the answer in a form that does not depend on where the folder is.
type fsQuery struct {
	op     fsOp
	path   string
	answer string
}

func newBuildCache() *buildCache {
	return &buildCache{entries: map[string][]*cachedBuild{}, answers: map[string]string{},
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

// lookup returns an earlier build of the same kustomization whose queries fs, from dir, answers
// the same way. The replay reads through fs, so whatever fs records (the roots a build reaches) is
// recorded for a hit as for a real build.
func (c *buildCache) lookup(key string, fs kustfs.FileSystem, dir string) *cachedBuild {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	candidates := c.entries[key]
	c.mu.Unlock()
	for _, b := range candidates {
		if c.replays(b.queries, fs, dir) {
			c.mu.Lock()
			c.hits++
			c.mu.Unlock()
			return b
		}
	}
	return nil
}

func (c *buildCache) store(key string, t *tracingFS, resources []builtResource) {
	if c == nil || t.opaque {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries[key]) >= maxCandidates {
		return
	}
	for i, q := range t.queries {
		if a, ok := c.answers[q.answer]; ok {
			t.queries[i].answer = a
		} else {
			c.answers[q.answer] = q.answer
		}
	}
	c.entries[key] = append(c.entries[key], &cachedBuild{queries: t.queries, resources: resources})
}

func (c *buildCache) replays(queries []fsQuery, fs kustfs.FileSystem, dir string) bool {
	for _, q := range queries {
		if c.ask(fs, dir, q.op, filepath.Join(dir, q.path)) != q.answer {
			return false
		}
	}
	return true
}

// contentAnswer stands for the content of a file: a digest, not the bytes, so that the traces of
// a run hold little memory.
func (c *buildCache) contentAnswer(data []byte) string {
	var d [16]byte
	binary.LittleEndian.PutUint64(d[:8], maphash.Bytes(c.seeds[0], data))
	binary.LittleEndian.PutUint64(d[8:], maphash.Bytes(c.seeds[1], data))
	return "=" + string(d[:])
}

// ask puts one query to fs and renders the answer relative to dir.
func (c *buildCache) ask(fs kustfs.FileSystem, dir string, op fsOp, p string) string {
	switch op {
	case opExists:
		return boolAnswer(fs.Exists(p))
	case opIsDir:
		return boolAnswer(fs.IsDir(p))
	case opReadFile:
		data, err := fs.ReadFile(p)
		if err != nil {
			return errAnswer
		}
		return c.contentAnswer(data)
	case opReadDir:
		names, err := fs.ReadDir(p)
		if err != nil {
			return errAnswer
		}
		return "=" + strings.Join(names, "\x00")
	case opCleanedAbs:
		d, f, err := fs.CleanedAbs(p)
		if err != nil {
			return errAnswer
		}
		rel, ok := relative(dir, string(d))
		if !ok {
			return errAnswer + "outside"
		}
		return "=" + rel + "\x00" + f
	case opGlob:
		matches, err := fs.Glob(p)
		if err != nil {
			return errAnswer
		}
		rels := make([]string, len(matches))
		for i, m := range matches {
			if rels[i], _ = relative(dir, m); rels[i] == "" {
				return errAnswer + "outside"
			}
		}
		return "=" + strings.Join(rels, "\x00")
	}
	return errAnswer
}

// errAnswer stands for any error: error texts carry absolute paths, and only successful builds are
// kept, so a build cannot have used one in its result.
const errAnswer = "!"

func boolAnswer(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func relative(dir, p string) (string, bool) {
	if !filepath.IsAbs(p) {
		return "", false
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return "", false
	}
	return rel, true
}

// tracingFS records every query a build makes, for buildCache. A query it cannot express relative
// to the build folder (a relative path, a walk, an opened file, a write) makes the build opaque:
// it is not cached.
type tracingFS struct {
	kustfs.FileSystem
	cache   *buildCache
	dir     string
	queries []fsQuery
	opaque  bool
}

func (t *tracingFS) record(op fsOp, p, answer string) {
	rel, ok := relative(t.dir, p)
	// An unclean path may go through a symbolic link and back ("link/.."): its replay, cleaned,
	// would not ask the same question.
	if !ok || filepath.Clean(p) != p {
		t.opaque = true
		return
	}
	t.queries = append(t.queries, fsQuery{op: op, path: rel, answer: answer})
}

func (t *tracingFS) Exists(p string) bool {
	a := t.cache.ask(t.FileSystem, t.dir, opExists, p)
	t.record(opExists, p, a)
	return a == "1"
}

func (t *tracingFS) IsDir(p string) bool {
	a := t.cache.ask(t.FileSystem, t.dir, opIsDir, p)
	t.record(opIsDir, p, a)
	return a == "1"
}

func (t *tracingFS) ReadFile(p string) ([]byte, error) {
	data, err := t.FileSystem.ReadFile(p)
	a := errAnswer
	if err == nil {
		a = t.cache.contentAnswer(data)
	}
	t.record(opReadFile, p, a)
	return data, err
}

func (t *tracingFS) ReadDir(p string) ([]string, error) {
	names, err := t.FileSystem.ReadDir(p)
	a := errAnswer
	if err == nil {
		a = "=" + strings.Join(names, "\x00")
	}
	t.record(opReadDir, p, a)
	return names, err
}

func (t *tracingFS) CleanedAbs(p string) (kustfs.ConfirmedDir, string, error) {
	d, f, err := t.FileSystem.CleanedAbs(p)
	a := errAnswer
	if err == nil {
		if rel, ok := relative(t.dir, string(d)); ok {
			a = "=" + rel + "\x00" + f
		} else {
			t.opaque = true
		}
	}
	t.record(opCleanedAbs, p, a)
	return d, f, err
}

func (t *tracingFS) Glob(pattern string) ([]string, error) {
	matches, err := t.FileSystem.Glob(pattern)
	a := errAnswer
	if err == nil {
		rels := make([]string, len(matches))
		for i, m := range matches {
			rel, ok := relative(t.dir, m)
			if !ok {
				t.opaque = true
			}
			rels[i] = rel
		}
		a = "=" + strings.Join(rels, "\x00")
	}
	t.record(opGlob, pattern, a)
	return matches, err
}

func (t *tracingFS) Open(p string) (kustfs.File, error) {
	t.opaque = true
	return t.FileSystem.Open(p)
}

func (t *tracingFS) Walk(p string, fn filepath.WalkFunc) error {
	t.opaque = true
	return t.FileSystem.Walk(p, fn)
}

func (t *tracingFS) Create(p string) (kustfs.File, error) {
	t.opaque = true
	return t.FileSystem.Create(p)
}

func (t *tracingFS) Mkdir(p string) error {
	t.opaque = true
	return t.FileSystem.Mkdir(p)
}

func (t *tracingFS) MkdirAll(p string) error {
	t.opaque = true
	return t.FileSystem.MkdirAll(p)
}

func (t *tracingFS) RemoveAll(p string) error {
	t.opaque = true
	return t.FileSystem.RemoveAll(p)
}

func (t *tracingFS) WriteFile(p string, data []byte) error {
	t.opaque = true
	return t.FileSystem.WriteFile(p, data)
}
