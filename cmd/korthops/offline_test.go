package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// korthops validate needs no network: run the real binary in a network namespace that has no
// interface but a downed loopback, with proxies pointing nowhere and no module proxy.
func TestValidateRunsWithoutNetwork(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 || runtime.GOOS != "linux" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must prove offline validation: unshare %v, uid %d", err, os.Geteuid())
		}
		t.Skip("SKIPPED: needs root and unshare(1) to make a network namespace")
	}
	bin := filepath.Join(t.TempDir(), "korthops")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(unshare, "--net", bin, "-C", "../..", "validate")
	cmd.Env = append(os.Environ(), "GOPROXY=off", "HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9",
		"XDG_CACHE_HOME="+t.TempDir()) // a cold schema cache: extraction must not need the network either
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "valid: 4 cluster(s)") {
		t.Fatalf("offline validate: %v\n%s", err, out)
	}
	// The namespace really has no way out: its only interface is the (down) loopback.
	devices, err := exec.Command(unshare, "--net", "cat", "/proc/net/dev").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(devices)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(strings.TrimSpace(lines[2]), "lo:") {
		t.Fatalf("network namespace has interfaces:\n%s", devices)
	}
}
