// Package korthops holds the GitOps bases that korthops scaffolds. The checked-in folders are the
// single source: `korthops init` writes exactly these files, so the repository's own content and
// the tool's output cannot drift apart.
package korthops

import "embed"

// Bases are the cluster-independent kustomize bases and components. Per-cluster overlays and
// cluster entry points are rendered from templates by package layout.
//
//go:embed infrastructure/controllers infrastructure/configs apps/base apps/components
var Bases embed.FS
