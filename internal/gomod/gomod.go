// Package gomod finds Go modules in the module cache, downloading them through the Go module proxy
// when needed: the generators and the test harness read CRDs, manifests and sources from there.
package gomod

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
)

// Module is a downloaded module version.
type Module struct {
	// Dir is the module's (read-only) folder in the module cache; GoMod its go.mod file.
	Dir, GoMod string
}

// Download runs `go mod download -json module@version`.
func Download(module, version string) (Module, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	data, err := cmd.Output()
	var info struct{ Dir, GoMod, Error string }
	if jerr := json.Unmarshal(data, &info); jerr != nil && err == nil {
		err = jerr
	}
	if info.Error != "" {
		return Module{}, fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	}
	if err != nil {
		return Module{}, fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	return Module{Dir: info.Dir, GoMod: info.GoMod}, nil
}
