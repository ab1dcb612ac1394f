package bootstrap

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

//go:generate go run ./internal/genbundle -o manifests

// bundle is the Flux install bundle, in the layout of a Flux release's manifests.tar.gz, built
// from Go modules at generate time so bootstrap never downloads anything.
//
//go:embed manifests
var bundle embed.FS

// FluxVersion is the version of Flux that bootstrap installs.
func FluxVersion() string {
	v, err := bundle.ReadFile("manifests/VERSION")
	if err != nil {
		panic(fmt.Sprintf("embedded Flux bundle: %v", err)) // generated and committed: a build defect
	}
	return strings.TrimSpace(string(v))
}

// writeBundle copies the bundle into dir, where flux2's install.Generate reads it.
func writeBundle(dir string) error {
	entries, err := bundle.ReadDir("manifests")
	if err != nil {
		return err
	}
	for _, e := range entries {
		data, err := bundle.ReadFile("manifests/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
