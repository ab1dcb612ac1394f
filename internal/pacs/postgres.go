// Package pacs runs the PACS the scaffolded content deploys, as processes on loopback: Debian's
// PostgreSQL and Orthanc (with the PostgreSQL plugins), and a TLS front standing in for the ingress
// gateway. Tests use it to prove that the generated configuration really works.
package pacs

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Binaries the package needs, from Debian's postgresql, orthanc, orthanc-postgresql and dcmtk.
const (
	OrthancBinary    = "/usr/sbin/Orthanc"
	OrthancPluginDir = "/usr/share/orthanc/plugins"
)

// Require skips the test when a binary is missing, loudly; in CI (CI=true) a missing binary fails.
func Require(t testing.TB, binaries ...string) {
	t.Helper()
	for _, b := range binaries {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing: .ci/run must install postgresql, orthanc, orthanc-postgresql and dcmtk", b)
			}
			t.Skipf("SKIPPED: %s is not installed (apt-get install postgresql orthanc orthanc-postgresql dcmtk)", b)
		}
	}
}

// PostgresBin finds the newest installed PostgreSQL server binaries.
func PostgresBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(dirs) == 0 {
		return ""
	}
	return dirs[len(dirs)-1]
}

// FreePort asks the kernel for a free loopback port.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Postgres is a PostgreSQL server for one test.
type Postgres struct {
	Port   int
	bin    string
	socket string
	osUser string
}

const pgOSUser = "korthops-pg"

// StartPostgres initialises a cluster in a temp dir and starts it on 127.0.0.1 with password
// authentication over TCP. PostgreSQL refuses to run as root, so it runs as a dedicated OS user.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := PostgresBin()
	if bin == "" {
		Require(t, "initdb")
	}
	if _, err := user.Lookup(pgOSUser); err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", pgOSUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd %s: %v\n%s", pgOSUser, err, out)
		}
	}
	dir, err := os.MkdirTemp("", "korthops-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, socket := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	for _, d := range []string{data, socket} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("chown", "-R", pgOSUser, dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	os.Chmod(dir, 0o755)
	p := &Postgres{Port: FreePort(t), bin: bin, socket: socket, osUser: pgOSUser}
	p.run(t, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8")
	logFile := filepath.Join(dir, "postgres.log")
	p.run(t, filepath.Join(bin, "pg_ctl"), "-D", data, "-l", logFile, "-w", "-t", "60", "start",
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", p.Port, socket))
	t.Cleanup(func() {
		cmd := p.command(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stop postgres: %v\n%s", err, out)
		}
	})
	return p
}

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	return exec.Command("runuser", append([]string{"-u", p.osUser, "--", name}, args...)...)
}

func (p *Postgres) run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := p.command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// SQL runs a statement as the superuser over the Unix socket and returns psql's unaligned output.
func (p *Postgres) SQL(t testing.TB, database, statement string) string {
	t.Helper()
	out := p.run(t, filepath.Join(p.bin, "psql"), "-h", p.socket, "-p", strconv.Itoa(p.Port), "-U", "postgres",
		"-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", statement)
	return strings.TrimSpace(out)
}

// CreateDatabase creates a login role with a password and a database it owns.
func (p *Postgres) CreateDatabase(t testing.TB, name, owner, password string) {
	t.Helper()
	p.SQL(t, "postgres", fmt.Sprintf("CREATE ROLE %q LOGIN PASSWORD '%s'", owner, strings.ReplaceAll(password, "'", "''")))
	p.SQL(t, "postgres", fmt.Sprintf("CREATE DATABASE %q OWNER %q", name, owner))
}

// waitFor polls fn until it returns nil or the deadline passes.
func waitFor(timeout time.Duration, fn func() error) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
