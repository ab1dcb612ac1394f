// Package gitserver serves bare git repositories over smart HTTP on loopback, through Debian's
// git-http-backend, with basic authentication in front: the transport Flux and go-git use.
package gitserver

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	gogit "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/korthops/korthops/internal/repotest"
)

// Server is a git server for one test.
type Server struct {
	root     string
	user     string
	password string
	srv      *httptest.Server

	mu sync.Mutex
	// beforeReceive runs once before the next push is handed to git.
	beforeReceive func()
}

// backend is git's CGI program.
func backend() (string, error) {
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return "", err
	}
	return filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"), nil
}

// New starts a server whose repositories accept user:password only. It stops with the test.
func New(t testing.TB, user, password string) *Server {
	t.Helper()
	bin, err := backend()
	if err != nil {
		t.Fatalf("git is not installed: %v", err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("git-http-backend: %v", err)
	}
	s := &Server{root: t.TempDir(), user: user, password: password}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != s.user || p != s.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="korthops test git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			s.mu.Lock()
			hook := s.beforeReceive
			s.beforeReceive = nil
			s.mu.Unlock()
			if hook != nil {
				hook()
			}
		}
		// git-http-backend accepts pushes from an authenticated REMOTE_USER only.
		h := &cgi.Handler{Path: bin, Env: []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=" + u}}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// Create makes an empty bare repository and returns its URL.
func (s *Server) Create(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(s.root, name)
	for _, args := range [][]string{
		{"init", "--bare", "--initial-branch=main", dir},
		{"-C", dir, "config", "http.receivepack", "true"},
	} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return s.srv.URL + "/" + name
}

// Dir is the bare repository's folder, for assertions with git itself.
func (s *Server) Dir(name string) string { return filepath.Join(s.root, name) }

// BeforeNextPush runs fn once, just before the next push reaches the repository: tests use it
// to move the branch under a client's feet.
func (s *Server) BeforeNextPush(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beforeReceive = fn
}

// Publish makes dir a git clone of a new repository on the server (main branch, one commit of
// everything in dir, origin set to the server) and pushes it. It returns the repository's URL.
func (s *Server) Publish(t testing.TB, dir, name string) string {
	t.Helper()
	url := s.Create(t, name)
	repotest.CommitAll(t, dir, "korthops init")
	g, err := gogit.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}}); err != nil {
		t.Fatal(err)
	}
	s.push(t, g)
	return url
}

// CommitPush commits every change of the clone at dir and pushes it to its origin on the server.
// It returns the commit's hash.
func (s *Server) CommitPush(t testing.TB, dir, msg string) string {
	t.Helper()
	h := repotest.CommitAll(t, dir, msg)
	g, err := gogit.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.push(t, g)
	return h
}

// Pull brings the clone at dir up to its origin on the server.
func (s *Server) Pull(t testing.TB, dir string) {
	t.Helper()
	g, err := gogit.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := g.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.Pull(&gogit.PullOptions{Auth: s.auth()}); err != nil && err != gogit.NoErrAlreadyUpToDate {
		t.Fatal(err)
	}
}

func (s *Server) push(t testing.TB, g *gogit.Repository) {
	t.Helper()
	if err := g.Push(&gogit.PushOptions{Auth: s.auth()}); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) auth() *githttp.BasicAuth {
	return &githttp.BasicAuth{Username: s.user, Password: s.password}
}
