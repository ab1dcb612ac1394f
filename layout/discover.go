package layout

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fluxcd/pkg/sourceignore"
	"github.com/fluxcd/pkg/sourceignore/gitignore"
	"sigs.k8s.io/kustomize/api/konfig"
)

// KustomizationFileNames are the file names kustomize recognises, in its order of preference.
func KustomizationFileNames() []string { return konfig.RecognizedKustomizationFileNames() }

// ignoreMatcher applies Flux's own source-ignore rules (the VCS and default patterns plus every
// .sourceignore file), so korthops sees the repository the way source-controller packages it.
func (r *Repo) ignoreMatcher() (gitignore.Matcher, error) {
	ps, err := sourceignore.LoadIgnorePatterns(r.root, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s files: %w", sourceignore.IgnoreFile, err)
	}
	return sourceignore.NewDefaultMatcher(ps, nil), nil
}

// Files lists every file of the repository that Flux would see, as slash paths relative to the
// root, sorted. Symbolic links are listed as they are; callers that follow them must check where
// they lead.
func (r *Repo) Files() ([]string, error) {
	m, err := r.ignoreMatcher()
	if err != nil {
		return nil, err
	}
	var files []string
	err = filepath.WalkDir(r.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == r.root {
			return nil
		}
		rel := r.Rel(p)
		if m.Match(strings.Split(rel, "/"), d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", r.root, err)
	}
	slices.Sort(files)
	return files, nil
}

// KustomizationRoots lists every folder that holds a kustomization file, as slash paths relative
// to the root, sorted.
func (r *Repo) KustomizationRoots() ([]string, error) {
	files, err := r.Files()
	if err != nil {
		return nil, err
	}
	var roots []string
	for _, f := range files {
		dir, name := filepath.Split(filepath.FromSlash(f))
		if slices.Contains(KustomizationFileNames(), name) {
			roots = append(roots, filepath.ToSlash(filepath.Clean(dir)))
		}
	}
	return slices.Compact(roots), nil
}

// HasKustomization reports whether dir (absolute) holds a kustomization file.
func HasKustomization(dir string) bool {
	for _, name := range KustomizationFileNames() {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// IsDir reports whether path is an existing directory.
func IsDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// IsFile reports whether path is an existing regular file.
func IsFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
