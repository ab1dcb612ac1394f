package bootstrap

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/korthops/korthops/validate"
)

// ImageList is what a cluster will run.
type ImageList struct {
	// Images are container image references, sorted and unique.
	Images []string
	// Unrendered are HelmReleases whose charts korthops cannot render offline: their images are
	// not in the list.
	Unrendered []string
}

var bundleImage = regexp.MustCompile(`(?m)^\s+image: fluxcd/([a-z-]+):(\S+)$`)

// FluxImages are the controller images of the embedded Flux bundle, from registry (default
// ghcr.io/fluxcd), as bootstrap installs them.
func FluxImages(registry string) []string {
	if registry == "" {
		registry = "ghcr.io/fluxcd"
	}
	var out []string
	b := embeddedBundle()
	entries, _ := fs.ReadDir(b, ".")
	for _, e := range entries {
		data, _ := fs.ReadFile(b, e.Name())
		for _, m := range bundleImage.FindAllStringSubmatch(string(data), -1) {
			out = append(out, strings.TrimSuffix(registry, "/")+"/"+m[1]+":"+m[2])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Images lists the container images of one cluster (or of every cluster when cluster is empty):
// the Flux controllers (from the repository when the cluster is bootstrapped, else from the
// bundle bootstrap would install) and every container of the rendered content.
func Images(ctx context.Context, repoDir, cluster, registry string, opts validate.Opts) (*ImageList, error) {
	opts.Cluster = cluster
	v, err := validate.New(opts)
	if err != nil {
		return nil, err
	}
	rendered, err := v.Render(ctx, repoDir)
	if err != nil {
		return nil, err
	}
	list := &ImageList{}
	for _, rc := range rendered {
		flux := false
		for _, ks := range rc.Kustomizations {
			for _, o := range ks.Objects {
				imgs := podImages(o.Map)
				if o.Namespace == "flux-system" && len(imgs) > 0 {
					flux = true
				}
				list.Images = append(list.Images, imgs...)
				if o.Kind == "HelmRelease" {
					list.Unrendered = append(list.Unrendered, fmt.Sprintf("%s/%s/%s", rc.Cluster, o.Namespace, o.Name))
				}
			}
		}
		if !flux {
			list.Images = append(list.Images, FluxImages(registry)...)
		}
	}
	slices.Sort(list.Images)
	list.Images = slices.Compact(list.Images)
	slices.Sort(list.Unrendered)
	return list, nil
}

// podImages returns the images of a workload's pod template (or of a Pod).
func podImages(obj map[string]any) []string {
	spec, _ := obj["spec"].(map[string]any)
	switch obj["kind"] {
	case "Pod":
	case "CronJob":
		spec = mapAt(mapAt(mapAt(mapAt(spec, "jobTemplate"), "spec"), "template"), "spec")
	default:
		spec = mapAt(mapAt(spec, "template"), "spec")
	}
	var out []string
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		list, _ := spec[key].([]any)
		for _, c := range list {
			if m, ok := c.(map[string]any); ok {
				if img, ok := m["image"].(string); ok && img != "" {
					out = append(out, img)
				}
			}
		}
	}
	return out
}

func mapAt(m map[string]any, key string) map[string]any {
	out, _ := m[key].(map[string]any)
	return out
}
