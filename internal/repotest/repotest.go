// Package repotest changes repositories for tests: it edits files the way an engineer would and
// commits them with go-git.
package repotest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Edit replaces the first old by new in a file of the repository at dir; old must occur.
func Edit(t testing.TB, dir, file, old, new string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(file))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Write writes a file of the repository at dir, with its folders.
func Write(t testing.TB, dir, file, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(file))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// CommitAll commits every change of the working tree at dir, first making dir a git repository
// on branch main if it is not one. It returns the commit's hash.
func CommitAll(t testing.TB, dir, msg string) string {
	t.Helper()
	g, err := gogit.PlainOpen(dir)
	if err == gogit.ErrRepositoryNotExists {
		g, err = gogit.PlainInitWithOptions(dir, &gogit.PlainInitOptions{InitOptions: gogit.InitOptions{DefaultBranch: "refs/heads/main"}})
	}
	if err != nil {
		t.Fatal(err)
	}
	wt, err := g.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&gogit.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "korthops test", Email: "test@example.org", When: time.Now()}
	h, err := wt.Commit(msg, &gogit.CommitOptions{Author: sig})
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}
