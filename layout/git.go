package layout

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// openGit opens the git repository that holds the working tree.
func (r *Repo) openGit() (*git.Repository, error) {
	g, err := git.PlainOpenWithOptions(r.root, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, fmt.Errorf("%s is not a git repository: %w", r.root, err)
	}
	return g, nil
}

// treeAt resolves a revision (branch, tag, origin/main, commit, HEAD~1) to its tree, and the
// repository root's path inside it (the working tree may be a sub-folder of the git repository).
func (r *Repo) treeAt(rev string) (*object.Tree, string, error) {
	g, err := r.openGit()
	if err != nil {
		return nil, "", err
	}
	hash, err := g.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, "", fmt.Errorf("resolve %q: %w", rev, err)
	}
	commit, err := g.CommitObject(*hash)
	if err != nil {
		return nil, "", fmt.Errorf("commit %s: %w", rev, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, "", err
	}
	wt, err := g.Worktree()
	if err != nil {
		return nil, "", err
	}
	prefix, err := filepath.Rel(wt.Filesystem.Root(), r.root)
	if err != nil {
		return nil, "", err
	}
	prefix = filepath.ToSlash(prefix)
	if prefix != "." {
		if tree, err = tree.Tree(prefix); errors.Is(err, object.ErrDirectoryNotFound) {
			return &object.Tree{}, prefix, nil
		} else if err != nil {
			return nil, "", err
		}
	}
	return tree, prefix, nil
}

// ExportRevision writes the repository as it was at rev into dst, straight from git's object
// store: the working tree is not touched and nothing is fetched.
func (r *Repo) ExportRevision(rev, dst string) error {
	tree, _, err := r.treeAt(rev)
	if err != nil {
		return err
	}
	return tree.Files().ForEach(func(f *object.File) error {
		p := filepath.Join(dst, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if f.Mode == filemode.Symlink {
			target, err := f.Contents()
			if err != nil {
				return err
			}
			return os.Symlink(target, p)
		}
		rd, err := f.Reader()
		if err != nil {
			return err
		}
		defer rd.Close()
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, rd); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// ChangedSince lists the files (slash paths relative to the root) that differ between rev and the
// working tree: changed, added, and deleted, committed or not.
func (r *Repo) ChangedSince(rev string) ([]string, error) {
	tree, _, err := r.treeAt(rev)
	if err != nil {
		return nil, err
	}
	then := map[string]plumbing.Hash{}
	err = tree.Files().ForEach(func(f *object.File) error {
		then[f.Name] = f.Hash
		return nil
	})
	if err != nil {
		return nil, err
	}
	now, err := r.Files()
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, f := range now {
		data, err := os.ReadFile(r.abs(f))
		if err != nil {
			changed = append(changed, f)
			continue
		}
		h, ok := then[f]
		if !ok || plumbing.ComputeHash(plumbing.BlobObject, data) != h {
			changed = append(changed, f)
		}
		delete(then, f)
	}
	for f := range then {
		if _, err := os.Lstat(r.abs(f)); err != nil {
			changed = append(changed, f) // deleted since rev
		}
	}
	slices.Sort(changed)
	return changed, nil
}
