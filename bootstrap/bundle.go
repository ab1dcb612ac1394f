package bootstrap

import (
	"embed"
	"fmt"
	"io/fs"
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

// embeddedBundle is the bundle's folder.
func embeddedBundle() fs.FS {
	sub, err := fs.Sub(bundle, "manifests")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}

// FluxVersion is the version of Flux that bootstrap installs.
func FluxVersion() string { return bundleVersion(embeddedBundle()) }

func bundleVersion(b fs.FS) string {
	v, err := fs.ReadFile(b, "VERSION")
	if err != nil {
		panic(fmt.Sprintf("Flux bundle: %v", err)) // generated and committed: a build defect
	}
	return strings.TrimSpace(string(v))
}

// writeBundle copies a bundle into dir, where flux2's install.Generate reads it.
func writeBundle(b fs.FS, dir string) error {
	entries, err := fs.ReadDir(b, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		data, err := fs.ReadFile(b, e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
