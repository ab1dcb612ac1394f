package validate

import (
	"context"
	"fmt"
	"slices"

	"github.com/korthops/korthops/layout"
	"sigs.k8s.io/yaml"
)

// Object is one manifest of a rendered cluster.
type Object struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	// File is the source file, relative to the repository root.
	File string
	// Map is the manifest as Flux would apply it (after postBuild substitution), decoded.
	Map map[string]any
	// json is the same manifest as kustomize-controller sends it to the API server.
	json []byte
}

// YAML is the manifest as Flux would apply it, as YAML. Rendering converts only what is printed.
func (o Object) YAML() ([]byte, error) {
	data, err := yaml.JSONToYAML(o.json)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s/%s: %w", o.File, o.Kind, o.Namespace, o.Name, err)
	}
	return data, nil
}

// RenderedKustomization is what one Flux Kustomization applies.
type RenderedKustomization struct {
	Namespace, Name, Path string
	Objects               []Object
}

// RenderReport is a rendering of a repository's clusters.
type RenderReport struct {
	Clusters []Rendered
	// Skipped are the clusters Opts.ChangedSince left out.
	Skipped []Skipped
	// EntryPoints are all the cluster entry points of the repository, rendered or not, as
	// Clusters lists them.
	EntryPoints []string
}

// Rendered is one cluster as Flux would build it.
type Rendered struct {
	Cluster string
	// Kustomizations are in dependsOn order (a Kustomization after those it depends on).
	Kustomizations []RenderedKustomization
	// Findings are the problems met while building (missing paths, unresolved variables, ...).
	Findings []Finding
}

// Render builds every cluster (or Opts.Cluster) of the repository in dir the way validate does,
// without schema validation, and returns the manifests grouped by Flux Kustomization.
func (v *Validator) Render(ctx context.Context, dir string) ([]Rendered, error) {
	rep, err := v.RenderReport(ctx, dir)
	if err != nil {
		return nil, err
	}
	return rep.Clusters, nil
}

// RenderReport is Render that also says which clusters Opts.ChangedSince skipped.
func (v *Validator) RenderReport(ctx context.Context, dir string) (*RenderReport, error) {
	run, err := newRun(ctx, v, dir)
	if err != nil {
		return nil, err
	}
	run.clustersOnly = true
	defer run.close()
	if err := run.buildAll(); err != nil {
		return nil, err
	}
	var out []Rendered
	for _, c := range run.clusters {
		rc := Rendered{Cluster: c.name}
		for _, f := range run.findings {
			if f.Cluster == c.name {
				rc.Findings = append(rc.Findings, f)
			}
		}
		byVia := map[string][]Object{}
		for _, o := range c.objects {
			byVia[o.via] = append(byVia[o.via], Object{APIVersion: o.apiVersion, Kind: o.kind, Namespace: o.namespace,
				Name: o.name, File: o.file, Map: o.u, json: o.json})
		}
		for _, ks := range dependencyOrder(c.kustomizations) {
			key := ks.namespace + "/" + ks.name
			rc.Kustomizations = append(rc.Kustomizations, RenderedKustomization{
				Namespace: ks.namespace, Name: ks.name, Path: "./" + layout.CleanFluxPath(stringAt(ks.u["spec"], "path")),
				Objects: byVia[key],
			})
		}
		out = append(out, rc)
	}
	return &RenderReport{Clusters: out, Skipped: run.skipped, EntryPoints: run.entryPoints}, nil
}

// dependencyOrder sorts Flux Kustomizations so that each comes after the ones it depends on,
// keeping discovery order otherwise; members of a cycle keep their discovery order.
func dependencyOrder(kss []*object) []*object {
	index := map[string]int{}
	for i, ks := range kss {
		index[ks.namespace+"/"+ks.name] = i
	}
	var out []*object
	state := make([]int, len(kss)) // 0 new, 1 visiting, 2 done
	var visit func(i int)
	visit = func(i int) {
		if state[i] != 0 {
			return
		}
		state[i] = 1
		for _, d := range asSlice(asMap(kss[i].u["spec"])["dependsOn"]) {
			if j, ok := index[or(stringAt(d, "namespace"), kss[i].namespace)+"/"+stringAt(d, "name")]; ok {
				visit(j)
			}
		}
		state[i] = 2
		out = append(out, kss[i])
	}
	for i := range kss {
		visit(i)
	}
	return slices.Clip(out)
}

// RedactSecret returns a copy of a Secret manifest with every data and stringData value replaced,
// for output that must never show secret values.
func RedactSecret(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	for _, field := range []string{"data", "stringData"} {
		if m, ok := obj[field].(map[string]any); ok {
			red := make(map[string]any, len(m))
			for k := range m {
				red[k] = "**redacted**"
			}
			out[field] = red
		}
	}
	return out
}
