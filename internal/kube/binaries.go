// Package kube is the test harness for code that talks to Kubernetes: a real kube-apiserver and
// etcd, built from their Go modules once and cached by version (no Docker, no downloads but the Go
// module proxy), started on loopback through controller-runtime's envtest.
package kube

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Versions of the servers the harness builds.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.7.3"
)

// program is a server built from a tiny wrapper module.
type program struct {
	name    string
	version string
	// module and version the wrapper requires.
	require, requireVersion string
	main                    string
	ldflags                 []string
	// replaces derives extra replace directives from the required module's go.mod.
	replaces func(goMod []byte) []string
}

func apiServer() program {
	v := KubernetesVersion
	minor := strings.Split(strings.TrimPrefix(v, "v"), ".")
	var ldflags []string
	for _, pkg := range []string{"k8s.io/client-go/pkg/version", "k8s.io/component-base/version"} {
		ldflags = append(ldflags,
			"-X", pkg+".gitVersion="+v, "-X", pkg+".gitMajor="+minor[0], "-X", pkg+".gitMinor="+minor[1],
			"-X", pkg+".gitTreeState=clean")
	}
	return program{
		name: "kube-apiserver", version: v, require: "k8s.io/kubernetes", requireVersion: v,
		main: `package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
`,
		ldflags:  ldflags,
		replaces: stagingReplaces("v0." + strings.Join(minor[1:], ".")),
	}
}

func etcd() program {
	return program{
		name: "etcd", version: EtcdVersion, require: "go.etcd.io/etcd/server/v3", requireVersion: EtcdVersion,
		main: `package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
`,
	}
}

// stagingReplaces turns k8s.io/kubernetes's `k8s.io/X => ./staging/...` replaces, which a module
// zip cannot honour, into the published staging modules of the same release.
func stagingReplaces(stagingVersion string) func([]byte) []string {
	return func(goMod []byte) []string {
		var out []string
		sc := bufio.NewScanner(bytes.NewReader(goMod))
		for sc.Scan() {
			line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "replace"))
			mod, target, ok := strings.Cut(line, "=>")
			if ok && strings.HasPrefix(strings.TrimSpace(target), "./staging/") {
				out = append(out, fmt.Sprintf("%s => %s %s", strings.TrimSpace(mod), strings.TrimSpace(mod), stagingVersion))
			}
		}
		return out
	}
}

// CacheDir is where built servers are kept, one folder per name and version.
func CacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(base, "korthops", "harness"), nil
}

// BinaryDir builds kube-apiserver and etcd if they are not cached yet and returns a folder that
// holds both, as envtest expects. Concurrent test processes wait for one another's build.
func BinaryDir() (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "bin-"+KubernetesVersion+"-etcd-"+EtcdVersion)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lock(filepath.Join(cache, ".build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	for _, p := range []program{apiServer(), etcd()} {
		if err := build(p, filepath.Join(dir, p.name)); err != nil {
			return "", fmt.Errorf("build %s %s: %w", p.name, p.version, err)
		}
	}
	return dir, nil
}

func build(p program, out string) error {
	if _, err := os.Stat(out); err == nil {
		return nil
	}
	work, err := os.MkdirTemp("", "korthops-build-"+p.name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	goMod := fmt.Sprintf("module korthops.local/%s\n\ngo 1.26.0\n\nrequire %s %s\n", p.name, p.require, p.requireVersion)
	if p.replaces != nil {
		upstream, err := downloadGoMod(p.require, p.requireVersion)
		if err != nil {
			return err
		}
		for _, r := range p.replaces(upstream) {
			goMod += "\nreplace " + r
		}
	}
	if err := os.WriteFile(filepath.Join(work, "go.mod"), []byte(goMod+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, "main.go"), []byte(p.main), 0o644); err != nil {
		return err
	}
	if err := goCmd(work, "mod", "tidy"); err != nil {
		return err
	}
	tmp := out + ".tmp"
	args := []string{"build", "-trimpath", "-ldflags", strings.Join(append([]string{"-s", "-w"}, p.ldflags...), " "), "-o", tmp, "."}
	if err := goCmd(work, args...); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

func downloadGoMod(module, version string) ([]byte, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Env = goEnv()
	data, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	var info struct{ GoMod, Error string }
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, err
	}
	if info.Error != "" {
		return nil, fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	return os.ReadFile(info.GoMod)
}

func goCmd(dir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = goEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// goEnv builds the wrapper modules outside any workspace or vendoring of the caller.
func goEnv() []string {
	return append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
}

// lock takes an exclusive file lock, so parallel test binaries build each server once.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
