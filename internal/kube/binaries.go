// Package kube is the test harness for code that talks to Kubernetes: a real kube-apiserver and
// etcd, built from their Go modules once and cached by version (no Docker, no downloads but the Go
// module proxy), started on loopback through controller-runtime's envtest.
package kube

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/korthops/korthops/internal/gomod"
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
	// copyModule builds the required module's own main package from a writable copy, after
	// `go mod edit` with edits (Flux controllers replace ./api, which module zips lack).
	copyModule bool
	edits      [][]string
	// install is a main package path built with `go install` at requireVersion.
	install string
}

// Versions of the Flux controllers and kwok; the controllers match the embedded Flux bundle.
const (
	SourceControllerVersion    = "v1.9.5"
	KustomizeControllerVersion = "v1.9.5"
	KwokVersion                = "v0.8.0"
)

func sourceController() program {
	return program{name: "source-controller", version: SourceControllerVersion, require: "github.com/fluxcd/source-controller",
		requireVersion: SourceControllerVersion, copyModule: true, edits: [][]string{
			{"-dropreplace", "github.com/fluxcd/source-controller/api"},
			// The proxy refuses pkg/artifact v0.18.3; v0.18.0 has the same API.
			{"-replace", "github.com/fluxcd/pkg/artifact=github.com/fluxcd/pkg/artifact@v0.18.0"},
		}}
}

func kustomizeController() program {
	return program{name: "kustomize-controller", version: KustomizeControllerVersion, require: "github.com/fluxcd/kustomize-controller",
		requireVersion: KustomizeControllerVersion, copyModule: true, edits: [][]string{
			{"-dropreplace", "github.com/fluxcd/kustomize-controller/api"},
		}}
}

func kwok() program {
	return program{name: "kwok", version: KwokVersion, require: "sigs.k8s.io/kwok", requireVersion: KwokVersion, install: "sigs.k8s.io/kwok/cmd/kwok"}
}

func buildModuleCopy(p program, out string) error {
	src, err := moduleDir(p.require, p.requireVersion)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "korthops-build-"+p.name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	if out, err := exec.Command("cp", "-R", src+"/.", work).CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s: %v\n%s", src, err, out)
	}
	if out, err := exec.Command("chmod", "-R", "u+w", work).CombinedOutput(); err != nil {
		return fmt.Errorf("chmod: %v\n%s", err, out)
	}
	for _, e := range p.edits {
		if err := goCmd(work, append([]string{"mod", "edit"}, e...)...); err != nil {
			return err
		}
	}
	// No `go mod tidy`: it would resolve the controllers' test dependencies, some of which the
	// proxy refuses; -mod=mod resolves what the build needs.
	tmp := out + ".tmp"
	if err := goCmd(work, "build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, "."); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

func buildInstall(p program, out string) error {
	gobin, err := os.MkdirTemp(filepath.Dir(out), ".install-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(gobin)
	cmd := exec.Command("go", "install", "-trimpath", "-ldflags", "-s -w", p.install+"@"+p.requireVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go install %s@%s: %w\n%s", p.install, p.requireVersion, err, o)
	}
	return os.Rename(filepath.Join(gobin, filepath.Base(p.install)), out)
}

// ModuleDir is where the Go module cache holds module@version (downloading it if needed).
func ModuleDir(module, version string) (string, error) { return moduleDir(module, version) }

func moduleDir(module, version string) (string, error) {
	m, err := gomod.Download(module, version)
	return m.Dir, err
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

// kubeProgram is another command of k8s.io/kubernetes, built from the same wrapper as the API server.
func kubeProgram(name, importPath, constructor string) program {
	p := apiServer()
	p.name = name
	p.main = fmt.Sprintf(`package main

import (
	"os"

	"k8s.io/component-base/cli"
	"%s"
)

func main() { os.Exit(cli.Run(app.%s())) }
`, importPath, constructor)
	return p
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
	return buildAll("bin-"+KubernetesVersion+"-etcd-"+EtcdVersion, apiServer(), etcd())
}

// SystemBinaryDir builds what makes workloads and Flux run against the API server:
// kube-controller-manager, kube-scheduler, kwok, source-controller and kustomize-controller.
func SystemBinaryDir() (string, error) {
	return buildAll("system-"+KubernetesVersion+"-kwok-"+KwokVersion+"-flux-"+SourceControllerVersion+"-"+KustomizeControllerVersion,
		kubeProgram("kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager/app", "NewControllerManagerCommand"),
		kubeProgram("kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler/app", "NewSchedulerCommand"),
		kwok(), sourceController(), kustomizeController())
}

func buildAll(name string, programs ...program) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lock(filepath.Join(cache, ".build.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	for _, p := range programs {
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
	if p.copyModule {
		return buildModuleCopy(p, out)
	}
	if p.install != "" {
		return buildInstall(p, out)
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
	m, err := gomod.Download(module, version)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(m.GoMod)
}

func goCmd(dir string, args ...string) error {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = goEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, lastLines(string(out), 20))
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
