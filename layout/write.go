package layout

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// op is one file change of a transaction: write data, or remove the file.
type op struct {
	rel     string
	data    []byte
	remove  bool
	old     []byte
	existed bool
	tmp     string
}

// apply performs ops as one transaction: every new file is first written to a temp file beside its
// target, then all are renamed into place. If anything fails, the files already changed are put
// back, so the tree is left as it was.
func (r *Repo) apply(ops []op) (err error) {
	var createdDirs []string
	defer func() {
		if err == nil {
			return
		}
		for _, o := range ops {
			if o.tmp != "" {
				os.Remove(o.tmp)
			}
		}
		for i := len(createdDirs) - 1; i >= 0; i-- {
			os.Remove(createdDirs[i]) // only succeeds while empty
		}
	}()
	for i := range ops {
		o := &ops[i]
		if o.remove {
			continue
		}
		dir := filepath.Dir(r.abs(o.rel))
		created, err := mkdirAll(dir)
		createdDirs = append(createdDirs, created...)
		if err != nil {
			return fmt.Errorf("write %s: %w", o.rel, err)
		}
		if o.tmp, err = writeTemp(dir, o.data); err != nil {
			return fmt.Errorf("write %s: %w", o.rel, err)
		}
	}
	for i := range ops {
		if err = r.commit(ops[i], i); err != nil {
			r.rollback(ops[:i])
			return err
		}
	}
	for _, o := range ops {
		if o.remove {
			r.pruneEmptyDirs(filepath.Dir(r.abs(o.rel)))
		}
	}
	return nil
}

func (r *Repo) abs(rel string) string { return filepath.Join(r.root, filepath.FromSlash(rel)) }

func (r *Repo) commit(o op, index int) error {
	if r.failCommitAt != nil && r.failCommitAt(index) {
		return fmt.Errorf("write %s: injected failure", o.rel)
	}
	if o.remove {
		if err := os.Remove(r.abs(o.rel)); err != nil {
			return fmt.Errorf("remove %s: %w", o.rel, err)
		}
		return nil
	}
	if err := os.Rename(o.tmp, r.abs(o.rel)); err != nil {
		return fmt.Errorf("write %s: %w", o.rel, err)
	}
	return nil
}

// rollback restores the files of committed ops, newest first. It is best effort: the errors of a
// rollback cannot be handled better than by reporting the original one.
func (r *Repo) rollback(done []op) {
	for i := len(done) - 1; i >= 0; i-- {
		o := done[i]
		target := r.abs(o.rel)
		if !o.existed {
			os.Remove(target)
			continue
		}
		if tmp, err := writeTemp(filepath.Dir(target), o.old); err == nil {
			os.Rename(tmp, target)
		}
	}
}

// pruneEmptyDirs removes dir and its parents while they are empty, stopping at the root.
func (r *Repo) pruneEmptyDirs(dir string) {
	for dir != r.root && len(dir) > len(r.root) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

func writeTemp(dir string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".korthops-*.tmp")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// mkdirAll is os.MkdirAll that also returns the directories it created, outermost first.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		_, err := os.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		missing = append([]string{d}, missing...)
		if filepath.Dir(d) == d {
			break
		}
	}
	for i, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil {
			return missing[:i], err
		}
	}
	return missing, nil
}
