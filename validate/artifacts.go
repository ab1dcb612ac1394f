package validate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/bmatcuk/doublestar/v4"
	fluxfs "github.com/fluxcd/pkg/kustomize/filesys"
	"github.com/korthops/korthops/layout"
	kustfs "sigs.k8s.io/kustomize/kyaml/filesys"
)

// tree is the folder a Flux Kustomization builds from: the working tree itself, or an
// ExternalArtifact staged from it.
type tree struct {
	root string
	// from maps a staged path (slash-separated, relative to root) to the repository path it was
	// copied from; nil for the working tree.
	from map[string]string
	// name says where the tree comes from, in messages.
	name string
	// staging is the temporary folder that holds root, for an artifact.
	staging string

	diskOnce sync.Once
	diskFS   kustfs.FileSystem
	diskErr  error
}

// disk is the tree as kustomize-controller reads it: confined to the root (symbolic links cannot
// leave it), each file read once per run.
func (t *tree) disk() (kustfs.FileSystem, error) {
	t.diskOnce.Do(func() {
		var fs kustfs.FileSystem
		if fs, t.diskErr = fluxfs.MakeFsOnDiskSecure(t.root); t.diskErr == nil {
			t.diskFS = newReadOnceFS(fs)
		}
	})
	return t.diskFS, t.diskErr
}

// clean rewrites the staging paths in a message the way source-watcher writes them: "@artifact/...".
func (t *tree) clean(msg string) string {
	if t.staging == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, t.root, "@artifact")
	return strings.ReplaceAll(msg, t.staging, "@artifact/..")
}

// repoPath is the repository path of a file or folder of the tree, so findings point at the file
// an engineer edits, not at a staging copy.
func (t *tree) repoPath(repo *layout.Repo, abs string) string {
	if t.from == nil {
		return repo.Rel(abs)
	}
	rel, err := filepath.Rel(t.root, abs)
	if err != nil {
		return abs
	}
	rel = filepath.ToSlash(rel)
	// A path the copy did not write (a file kustomize looked for) lies in a folder it did.
	for dir, rest := rel, ""; ; dir = path.Dir(dir) {
		if p, ok := t.from[dir]; ok {
			return path.Join(p, rest)
		}
		if dir == "." || dir == "/" || strings.HasPrefix(dir, "..") {
			break
		}
		rest = path.Join(path.Base(dir), rest)
	}
	return t.name + ":" + rel
}

// badFileUnder returns the first of the repository files bad that the tree holds under its folder
// rel, or "".
func (t *tree) badFileUnder(rel string, bad []string) string {
	under := func(p string) bool { return rel == "." || strings.HasPrefix(p, rel+"/") }
	var found []string
	for _, b := range bad {
		if t.from == nil && under(b) {
			found = append(found, b)
		}
	}
	for staged, src := range t.from {
		if under(staged) && slices.Contains(bad, src) {
			found = append(found, src)
		}
	}
	if len(found) == 0 {
		return ""
	}
	return slices.Min(found)
}

// artifactSource resolves an ExternalArtifact made by an ArtifactGenerator of the cluster. It
// returns found=false when no generator of the cluster makes it; otherwise the staged tree, or nil
// with the reason already reported.
func (r *run) artifactSource(c *cluster, ks *object, ns, name string) (t *tree, found bool) {
	for _, gen := range c.objects {
		if gen.kind != "ArtifactGenerator" || gen.group() != "source.extensions.fluxcd.io" || gen.namespace != ns {
			continue
		}
		spec, _ := gen.u["spec"].(map[string]any)
		artifacts, _ := spec["artifacts"].([]any)
		for i, a := range artifacts {
			am, _ := a.(map[string]any)
			if stringAt(am, "name") != name {
				continue
			}
			// A cluster is built by one goroutine: its artifacts need no lock.
			key := gen.id() + "|" + name
			t, done := c.artifacts[key]
			if !done {
				t = r.stageArtifact(c, gen, i, am)
				c.artifacts[key] = t
			}
			if t == nil {
				f := ks.finding(CheckExternalSource, []string{"spec", "sourceRef"}, fmt.Sprintf("ExternalArtifact %s/%s not validated: see ArtifactGenerator %s/%s", ns, name, gen.namespace, gen.name))
				f.Severity = SeverityWarning
				r.add(f)
			}
			return t, true
		}
	}
	return nil, false
}

// stageArtifact copies the files of one output artifact the way source-watcher's builder does
// for the Overwrite strategy, from sources that are this repository, into a staging folder.
// Anything it cannot reproduce offline (another source, the Merge and Extract strategies) is a
// warning on the generator, and the artifact is not built.
func (r *run) stageArtifact(c *cluster, gen *object, index int, spec map[string]any) *tree {
	field := []string{"spec", "artifacts", fmt.Sprint(index)}
	warn := func(f []string, msg string) {
		fd := gen.finding(CheckExternalSource, f, msg)
		fd.Severity = SeverityWarning
		r.add(fd)
	}
	local := map[string]bool{}
	genSpec, _ := gen.u["spec"].(map[string]any)
	sources, _ := genSpec["sources"].([]any)
	for _, s := range sources {
		sm, _ := s.(map[string]any)
		ns := stringAt(sm, "namespace")
		if ns == "" {
			ns = gen.namespace
		}
		local[stringAt(sm, "alias")] = r.isLocalSource(c, stringAt(sm, "kind"), ns, stringAt(sm, "name"))
	}
	staging, err := os.MkdirTemp("", "korthops-artifact-")
	if err != nil {
		r.add(gen.finding(CheckBuild, field, err.Error()))
		return nil
	}
	r.mu.Lock()
	r.tempDirs = append(r.tempDirs, staging)
	r.mu.Unlock()
	dir := filepath.Join(staging, "artifact")
	if err := os.Mkdir(dir, 0o755); err != nil {
		r.add(gen.finding(CheckBuild, field, err.Error()))
		return nil
	}
	t := &tree{root: dir, staging: staging, from: map[string]string{}, name: "ExternalArtifact " + gen.namespace + "/" + stringAt(spec, "name")}
	ops, _ := spec["copy"].([]any)
	for j, op := range ops {
		om, _ := op.(map[string]any)
		opField := append(slices.Clone(field), "copy", fmt.Sprint(j))
		from, to := stringAt(om, "from"), stringAt(om, "to")
		alias, _, _ := strings.Cut(strings.TrimPrefix(from, "@"), "/")
		if isLocal, known := local[alias]; known && !isLocal {
			warn(append(opField, "from"), fmt.Sprintf("external source, not validated: %s copies from source %q, which is not this repository", from, alias))
			return nil
		}
		if strategy := stringAt(om, "strategy"); strategy != "" && strategy != "Overwrite" {
			warn(append(opField, "strategy"), fmt.Sprintf("not validated: korthops stages artifacts with the Overwrite strategy only, not %s", strategy))
			return nil
		}
		optional, _ := om["optional"].(bool)
		var exclude []string
		if ex, ok := om["exclude"].([]any); ok {
			for _, e := range ex {
				exclude = append(exclude, fmt.Sprint(e))
			}
		}
		if _, known := local[alias]; !known && strings.HasPrefix(from, "@") {
			r.add(gen.finding(CheckArtifactCopy, append(opField, "from"), fmt.Sprintf("source alias %q is not declared in spec.sources", alias)))
			return nil
		}
		visible, err := r.visibleFiles()
		if err != nil {
			r.add(gen.finding(CheckBuild, field, err.Error()))
			return nil
		}
		if err := stageCopy(r.repo.Root(), dir, from, to, exclude, optional, visible, t.from); err != nil {
			r.add(gen.finding(CheckArtifactCopy, opField, fmt.Sprintf("copy %s to %s: %v", from, to, err)))
			return nil
		}
	}
	return t
}

// isLocalSource tells whether a source of the cluster is this repository: the bootstrap
// GitRepository flux-system, or a GitRepository whose URL is this repository's origin.
func (r *run) isLocalSource(c *cluster, kind, ns, name string) bool {
	if kind != "GitRepository" {
		return false
	}
	if name == "flux-system" {
		return true
	}
	for _, o := range c.objects {
		if o.kind == kind && o.name == name && o.namespace == ns && o.group() == "source.toolkit.fluxcd.io" {
			return r.isOrigin(stringAt(o.u["spec"], "url"))
		}
	}
	return false
}

// visibleFiles are the repository files in the GitRepository artifact source-controller makes:
// .sourceignore and Flux's default exclusions applied.
func (r *run) visibleFiles() (map[string]bool, error) {
	r.visibleOnce.Do(func() {
		files, err := r.repo.Files()
		if err != nil {
			r.visibleErr = err
			return
		}
		r.visible = make(map[string]bool, len(files))
		for _, f := range files {
			r.visible[f] = true
		}
	})
	return r.visible, r.visibleErr
}

// stageCopy applies one copy operation: from "@alias/pattern" (a file, a folder, or a glob) in
// the repository to "@artifact/dest" in the staging folder, with cp-like semantics, recording in
// from the repository path of everything it writes. Only visible files exist for it.
func stageCopy(repoRoot, staging, src, dst string, exclude []string, optional bool, visible map[string]bool, from map[string]string) error {
	_, pattern, ok := strings.Cut(strings.TrimPrefix(src, "@"), "/")
	if !strings.HasPrefix(src, "@") || !ok {
		return errors.New("source must be '@alias/pattern'")
	}
	dest, ok := strings.CutPrefix(dst, "@artifact/")
	if !ok {
		return errors.New("destination must start with '@artifact/'")
	}
	if dest == "" {
		dest = "."
	}
	if !filepath.IsLocal(dest) || slices.Contains(strings.Split(dest, "/"), "..") {
		return errors.New("destination must stay within the artifact")
	}
	for _, e := range exclude {
		if !doublestar.ValidatePattern(e) {
			return fmt.Errorf("invalid exclude pattern %q", e)
		}
	}
	repo, err := os.OpenRoot(repoRoot)
	if err != nil {
		return err
	}
	defer repo.Close()
	out, err := os.OpenRoot(staging)
	if err != nil {
		return err
	}
	defer out.Close()
	c := copier{repo: repo, out: out, from: from, exclude: exclude, visible: visible}

	if !strings.ContainsAny(pattern, "*?[]") {
		p := path.Clean(pattern)
		info, err := repo.Stat(p)
		if err == nil && !info.IsDir() && !visible[p] {
			err = fs.ErrNotExist
		}
		if errors.Is(err, fs.ErrNotExist) {
			if optional {
				return nil
			}
			return fmt.Errorf("%s does not exist in the repository", p)
		}
		if err != nil {
			return err
		}
		if info.IsDir() {
			return c.copy(p, path.Join(dest, path.Base(p)), p)
		}
		if c.excluded(p, ".") {
			return nil
		}
		target := dest
		if strings.HasSuffix(dst, "/") {
			target = path.Join(dest, path.Base(p))
		} else if info, err := out.Stat(dest); err == nil && info.IsDir() {
			target = path.Join(dest, path.Base(p))
		}
		return c.copy(p, target, ".")
	}

	matches, err := fs.Glob(repo.FS(), pattern)
	if err != nil {
		return fmt.Errorf("invalid glob %q: %w", pattern, err)
	}
	base := selectionRoot(pattern)
	var kept []string
	for _, m := range matches {
		if m == "." || m == ".." || c.excluded(m, base) {
			continue
		}
		if info, err := repo.Stat(m); err == nil && !info.IsDir() && !visible[m] {
			continue
		}
		kept = append(kept, m)
	}
	if len(kept) == 0 {
		if optional {
			return nil
		}
		return fmt.Errorf("no files match %q in the repository", pattern)
	}
	for _, m := range kept {
		target := path.Join(dest, m)
		// "dir/**" copies what is in dir, not dir itself, as cp -r dir/** does.
		if prefix, ok := strings.CutSuffix(pattern, "/**"); ok {
			if rest, ok := strings.CutPrefix(m, prefix+"/"); ok {
				target = path.Join(dest, rest)
			}
		}
		if err := c.copy(m, target, base); err != nil {
			return err
		}
	}
	return nil
}

type copier struct {
	repo, out *os.Root
	from      map[string]string
	exclude   []string
	visible   map[string]bool
}

// copy copies a repository file or folder (recursively, minus excluded paths) to target.
func (c copier) copy(src, target, excludeBase string) error {
	return fs.WalkDir(c.repo.FS(), src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != src && c.excluded(p, excludeBase) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, src), "/")
		dst := path.Join(target, rel)
		if d.IsDir() {
			if d.Name() == ".git" {
				return fs.SkipDir
			}
			c.record(dst, p)
			return c.out.MkdirAll(dst, 0o755)
		}
		if !d.Type().IsRegular() || !c.visible[p] {
			return nil
		}
		data, err := c.repo.ReadFile(p)
		if err != nil {
			return err
		}
		if err := c.out.MkdirAll(path.Dir(dst), 0o755); err != nil {
			return err
		}
		c.record(dst, p)
		return c.out.WriteFile(dst, data, 0o644)
	})
}

// record maps a staged path and its parent folders back to the repository; a later copy to the
// same path overwrites the file, and its record.
func (c copier) record(dst, src string) {
	for dst != "." && src != "." {
		c.from[dst] = src
		dst, src = path.Dir(dst), path.Dir(src)
	}
	if _, ok := c.from["."]; !ok && dst == "." {
		c.from["."] = src
	}
}

// excluded matches the exclude patterns against the path from the source root and from the
// operation's selection root; a pattern without a slash also matches the file name alone.
func (c copier) excluded(p, base string) bool {
	candidates := []string{p}
	if base != "." {
		if rel, ok := strings.CutPrefix(p, base+"/"); ok {
			candidates = append(candidates, rel)
		}
	}
	for _, pattern := range c.exclude {
		for _, cand := range candidates {
			if doublestar.MatchUnvalidated(pattern, cand) {
				return true
			}
		}
		if !strings.Contains(pattern, "/") && doublestar.MatchUnvalidated(pattern, path.Base(p)) {
			return true
		}
	}
	return false
}

// selectionRoot is the literal folder before the first glob segment of a pattern.
func selectionRoot(pattern string) string {
	var parts []string
	for _, part := range strings.Split(path.Clean(pattern), "/") {
		if strings.ContainsAny(part, "*?[]") {
			break
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return "."
	}
	return path.Join(parts...)
}
