// Package diff shows what a change does to each cluster: it renders every affected cluster at a
// git revision (read from git's object store) and in the working tree, exactly as validate builds
// them, and compares the resulting objects.
package diff

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/korthops/korthops/layout"
	"github.com/korthops/korthops/validate"
	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"
)

// Opts configure a diff.
type Opts struct {
	// Base is the git revision to compare with (e.g. origin/main).
	Base string
	// Cluster restricts the diff to one cluster.
	Cluster string
	// Validate carries the build options (schemas are not used).
	Validate validate.Opts
}

// Result is the difference per cluster.
type Result struct {
	Base     string    `json:"base"`
	Clusters []Cluster `json:"clusters"`
	// Unaffected are the clusters no changed file can reach: they were not rendered.
	Unaffected []string `json:"unaffected,omitempty"`
}

// Cluster is the difference of one cluster.
type Cluster struct {
	Name    string     `json:"name"`
	Added   []Resource `json:"added,omitempty"`
	Removed []Resource `json:"removed,omitempty"`
	Changed []Resource `json:"changed,omitempty"`
}

// Resource is one added, removed or changed object.
type Resource struct {
	// ID is kind/namespace/name (kind/name when cluster-scoped).
	ID            string `json:"id"`
	Kustomization string `json:"kustomization"`
	// Diff is a unified diff of the object's YAML (keys sorted, Secret data redacted).
	Diff string `json:"diff"`
}

// HasChanges reports whether any cluster differs.
func (r *Result) HasChanges() bool {
	for _, c := range r.Clusters {
		if len(c.Added)+len(c.Removed)+len(c.Changed) > 0 {
			return true
		}
	}
	return false
}

// Run compares the working tree of the repository in dir with opts.Base.
func Run(ctx context.Context, dir string, o Opts) (*Result, error) {
	repo, err := layout.Open(dir)
	if err != nil {
		return nil, err
	}
	baseDir, err := os.MkdirTemp("", "korthops-diff-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(baseDir)
	if err := repo.ExportRevision(o.Base, baseDir); err != nil {
		return nil, err
	}

	headOpts := o.Validate
	headOpts.Cluster, headOpts.ChangedSince = o.Cluster, o.Base
	hv, err := validate.New(headOpts)
	if err != nil {
		return nil, err
	}
	head, err := hv.RenderReport(ctx, repo.Root())
	if err != nil {
		return nil, err
	}

	// The base side: the clusters the change affects, and those it removed.
	headNames := head.EntryPoints
	baseNames, err := validate.Clusters(baseDir)
	if err != nil {
		return nil, err
	}
	var wanted []string
	for _, c := range head.Clusters {
		wanted = append(wanted, c.Cluster)
	}
	for _, b := range baseNames {
		if !slices.Contains(headNames, b) {
			wanted = append(wanted, lastElem(b))
		}
	}
	var baseExisting []string
	for _, w := range wanted {
		if slices.ContainsFunc(baseNames, func(b string) bool { return lastElem(b) == w }) && (o.Cluster == "" || w == o.Cluster) {
			baseExisting = append(baseExisting, w)
		}
	}
	var base []validate.Rendered
	if len(baseExisting) > 0 {
		baseOpts := o.Validate
		baseOpts.Clusters = baseExisting
		bv, err := validate.New(baseOpts)
		if err != nil {
			return nil, err
		}
		if base, err = bv.Render(ctx, baseDir); err != nil {
			return nil, err
		}
	}

	res := &Result{Base: o.Base}
	for _, s := range head.Skipped {
		res.Unaffected = append(res.Unaffected, s.Cluster)
	}
	names := slices.Clone(wanted)
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		c, err := compare(name, find(base, name), find(head.Clusters, name))
		if err != nil {
			return nil, err
		}
		res.Clusters = append(res.Clusters, c)
	}
	return res, nil
}

func lastElem(p string) string { return p[strings.LastIndex(p, "/")+1:] }

func find(rs []validate.Rendered, name string) *validate.Rendered {
	for i := range rs {
		if rs[i].Cluster == name {
			return &rs[i]
		}
	}
	return nil
}

type entry struct {
	id, kustomization, yaml string
}

// objects indexes a rendered cluster by object identity, with normalised YAML.
func objects(r *validate.Rendered) (map[string]entry, error) {
	out := map[string]entry{}
	if r == nil {
		return out, nil
	}
	for _, ks := range r.Kustomizations {
		for _, o := range ks.Objects {
			m := o.Map
			if o.Kind == "Secret" && o.APIVersion == "v1" {
				m = validate.RedactSecret(m)
			}
			// Marshalling a map sorts its keys: a reordered map is no change.
			data, err := yaml.Marshal(m)
			if err != nil {
				return nil, err
			}
			group, _, _ := strings.Cut(o.APIVersion, "/")
			if !strings.Contains(o.APIVersion, "/") {
				group = ""
			}
			id := o.Kind + "/" + o.Name
			if o.Namespace != "" {
				id = o.Kind + "/" + o.Namespace + "/" + o.Name
			}
			out[id+"|"+group] = entry{id: id, kustomization: ks.Namespace + "/" + ks.Name, yaml: string(data)}
		}
	}
	return out, nil
}

func compare(name string, base, head *validate.Rendered) (Cluster, error) {
	c := Cluster{Name: name}
	before, err := objects(base)
	if err != nil {
		return c, err
	}
	after, err := objects(head)
	if err != nil {
		return c, err
	}
	keys := make([]string, 0, len(before)+len(after))
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		b, inBase := before[k]
		a, inHead := after[k]
		switch {
		case !inBase:
			c.Added = append(c.Added, Resource{ID: a.id, Kustomization: a.kustomization, Diff: unified("", a.yaml, a.id)})
		case !inHead:
			c.Removed = append(c.Removed, Resource{ID: b.id, Kustomization: b.kustomization, Diff: unified(b.yaml, "", b.id)})
		case a.yaml != b.yaml:
			c.Changed = append(c.Changed, Resource{ID: a.id, Kustomization: a.kustomization, Diff: unified(b.yaml, a.yaml, a.id)})
		}
	}
	return c, nil
}

func unified(a, b, name string) string {
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: "base/" + name, ToFile: "head/" + name, Context: 3,
	})
	if err != nil {
		return fmt.Sprintf("(no diff: %v)", err)
	}
	return text
}
