package validate

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	fluxkustomize "github.com/fluxcd/pkg/kustomize"
	"github.com/go-git/go-git/v5"
	"github.com/korthops/korthops/layout"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	kustypes "sigs.k8s.io/kustomize/api/types"
	kustfs "sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/yaml"
)

const originAnnotation = "config.kubernetes.io/origin"

// object is one built resource, with where it came from.
type object struct {
	u map[string]any
	// json is the manifest as kustomize-controller sends it to the API server; kubeconform reads
	// it as YAML, of which JSON is a part.
	json       []byte
	apiVersion string
	kind       string
	namespace  string
	name       string
	file       string // source file, relative to the repository root
	cluster    string
	via        string // the Flux Kustomization that applied it, namespace/name
	ignore     []string
	r          *run
}

func (o *object) id() string {
	if o.namespace == "" {
		return o.kind + "/" + o.name
	}
	return o.kind + "/" + o.namespace + "/" + o.name
}

func (o *object) group() string {
	g, _, ok := strings.Cut(o.apiVersion, "/")
	if !ok {
		return ""
	}
	return g
}

// finding makes a finding about the object, located at field (path segments) in its source file.
func (o *object) finding(check string, field []string, msg string) Finding {
	return Finding{
		Check: check, Severity: SeverityError, File: o.file, Line: o.r.sources.line(o, field),
		Resource: o.id(), Field: jsonPath(field), Cluster: o.cluster, Kustomization: o.via, Message: msg,
	}
}

// cluster is one cluster entry point and everything reached from it.
type cluster struct {
	name           string
	entry          string
	objects        []*object
	kustomizations []*object
	// artifacts are the ExternalArtifacts staged for the cluster, by generator and name; nil
	// where the artifact could not be staged.
	artifacts map[string]*tree
}

type run struct {
	// mu guards findings, reachedRoots and builds: clusters are built in parallel.
	mu           sync.Mutex
	ctx          context.Context
	v            *Validator
	repo         *layout.Repo
	sources      *sourceIndex
	originURLs   []string
	clusters     []*cluster
	objects      []*object
	findings     []Finding
	reachedRoots map[string]bool
	cache        *buildCache
	// clustersOnly skips the kustomization roots no cluster reaches (rendering, not validating).
	clustersOnly bool
	// changed are the files changed since Opts.ChangedSince; deps tells what each build reads.
	changed []string
	deps    *layout.Dependencies
	skipped []Skipped
	// badFiles could not be parsed; they are reported once and kept away from kustomize.
	badFiles []string
	builds   int
	roots    int
	// visible are the files Flux sees, for staging artifacts; computed once, when needed.
	visibleOnce sync.Once
	visible     map[string]bool
	visibleErr  error
	// entryPoints are all the cluster entry points of the repository, before any filter.
	entryPoints []string
	// worktree is the repository's working tree, which most builds read; tempDirs hold staged
	// artifacts until close.
	worktree *tree
	tempDirs []string
}

// close removes what the run staged on disk.
func (r *run) close() {
	for _, d := range r.tempDirs {
		os.RemoveAll(d)
	}
	r.tempDirs = nil
}

// newRun opens the repository in dir for one run.
func newRun(ctx context.Context, v *Validator, dir string) (*run, error) {
	repo, err := layout.Open(dir)
	if err != nil {
		return nil, err
	}
	r := &run{ctx: ctx, v: v, repo: repo, sources: newSourceIndex(repo), reachedRoots: map[string]bool{}}
	r.worktree = &tree{root: repo.Root(), name: "the repository"}
	if !v.noBuildCache {
		r.cache = newBuildCache()
	}
	if g, err := git.PlainOpenWithOptions(repo.Root(), &git.PlainOpenOptions{DetectDotGit: true}); err == nil {
		if remote, err := g.Remote("origin"); err == nil {
			r.originURLs = remote.Config().URLs
		}
	}
	return r, nil
}

func (r *run) add(fs ...Finding) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range fs {
		if slices.Contains(r.v.opts.SkipChecks, f.Check) {
			continue
		}
		r.findings = append(r.findings, f)
	}
}

func (r *run) report() *Report {
	var kept []Finding
	ignored := map[string][]string{}
	for _, o := range r.objects {
		if len(o.ignore) > 0 {
			ignored[o.cluster+"|"+o.id()] = o.ignore
		}
	}
	for _, f := range r.findings {
		if !slices.Contains(ignored[f.Cluster+"|"+f.Resource], f.Check) {
			kept = append(kept, f)
		}
	}
	sortFindings(kept)
	rep := &Report{KubernetesVersion: r.v.k8sVersion, Kustomizations: r.builds, Roots: r.roots, Resources: len(r.objects), Findings: kept, Skipped: r.skipped}
	for _, c := range r.clusters {
		rep.Clusters = append(rep.Clusters, c.name)
	}
	return rep
}

// buildAll builds every cluster entry point, following Flux Kustomizations, then every
// kustomization root that no cluster reached.
func (r *run) buildAll() error {
	docs, ferrs, err := r.repo.Documents()
	if err != nil {
		return err
	}
	for _, fe := range ferrs {
		r.badFiles = append(r.badFiles, fe.File)
		r.add(Finding{Check: CheckYAML, Severity: SeverityError, File: fe.File, Line: fe.Line, Message: fe.Err.Error()})
	}
	entries := layout.EntryPoints(docs)
	r.entryPoints = slices.Clone(entries)
	if wanted := r.wantedClusters(); len(wanted) > 0 {
		var match []string
		for _, want := range wanted {
			n := len(match)
			for _, e := range entries {
				if e == layout.CleanFluxPath(want) || path.Base(e) == want {
					match = append(match, e)
				}
			}
			if len(match) == n {
				names := make([]string, len(entries))
				for i, e := range entries {
					names[i] = path.Base(e)
				}
				return fmt.Errorf("cluster %q not found; the repository has %s", want, strings.Join(names, ", "))
			}
		}
		slices.Sort(match)
		entries = slices.Compact(match)
	}
	if rev := r.v.opts.ChangedSince; rev != "" {
		if r.changed, err = r.repo.ChangedSince(rev); err != nil {
			return fmt.Errorf("--changed-since: %w", err)
		}
		if r.deps, err = r.repo.NewDependencies(docs); err != nil {
			return err
		}
		var affected []string
		for _, e := range entries {
			if r.deps.Of(e).Touches(r.changed) {
				affected = append(affected, e)
			} else {
				r.skipped = append(r.skipped, Skipped{Cluster: clusterName(e, r.repo), Reason: "no file it reads changed since " + rev})
			}
		}
		entries = affected
	}
	r.buildClusters(entries, docs)
	if err := r.ctx.Err(); err != nil {
		return err
	}
	if len(r.wantedClusters()) > 0 || r.clustersOnly {
		return nil
	}
	roots, err := r.repo.KustomizationRoots()
	if err != nil {
		return err
	}
	for _, root := range roots {
		if r.reachedRoots[root] || r.deps != nil && !r.deps.Of(root).Touches(r.changed) {
			continue
		}
		r.roots++
		r.buildPlain(root)
	}
	return nil
}

// buildClusters builds the clusters in parallel: each cluster's Flux Kustomizations depend on
// one another (substituteFrom, nested Kustomizations), different clusters do not.
func (r *run) buildClusters(entries []string, docs []layout.Document) {
	// kyaml initialises its OpenAPI schema lazily, which races; do it once before the workers.
	_ = openapi.Schema()
	r.clusters = make([]*cluster, len(entries))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(r.v.opts.Workers, len(entries)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r.clusters[i] = r.buildCluster(entries[i], docs)
			}
		}()
	}
	for i := range entries {
		if r.ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	for _, c := range r.clusters {
		if c != nil {
			r.objects = append(r.objects, c.objects...)
		}
	}
	r.clusters = slices.DeleteFunc(r.clusters, func(c *cluster) bool { return c == nil })
}

func (r *run) wantedClusters() []string {
	wanted := slices.Clone(r.v.opts.Clusters)
	if r.v.opts.Cluster != "" {
		wanted = append(wanted, r.v.opts.Cluster)
	}
	return wanted
}

func clusterName(entry string, repo *layout.Repo) string {
	if entry == "." {
		return filepath.Base(repo.Root())
	}
	return path.Base(entry)
}

func (r *run) buildCluster(entry string, docs []layout.Document) *cluster {
	name := clusterName(entry, r.repo)
	c := &cluster{name: name, entry: entry, artifacts: map[string]*tree{}}

	// The entry point is applied by bootstrap's flux-system Kustomization when the repository has
	// one; before bootstrap, korthops stands in for it with the same settings bootstrap writes.
	root := map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "flux-system", "namespace": "flux-system"},
		"spec": map[string]any{"path": "./" + entry, "prune": true, "interval": "10m",
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system"}},
	}
	rootFile := entry
	for _, d := range docs {
		if d.IsFluxKustomization() && d.FluxPath() == entry && (entry == "." || strings.HasPrefix(d.File, entry+"/")) {
			root, rootFile = d.Object, d.File
			break
		}
	}
	queue := []*object{{u: root, kind: "Kustomization", apiVersion: "kustomize.toolkit.fluxcd.io/v1",
		namespace: metaString(root, "namespace"), name: metaString(root, "name"), file: rootFile, cluster: name, r: r}}
	seen := map[string]bool{}
	for len(queue) > 0 && r.ctx.Err() == nil {
		ks := queue[0]
		queue = queue[1:]
		if ks.namespace == "" {
			ks.namespace = "flux-system"
		}
		key := ks.namespace + "/" + ks.name
		if seen[key] {
			continue
		}
		seen[key] = true
		c.kustomizations = append(c.kustomizations, ks)
		for _, o := range r.buildFlux(c, ks) {
			c.objects = append(c.objects, o)
			if o.kind == "Kustomization" && strings.HasPrefix(o.apiVersion, "kustomize.toolkit.fluxcd.io/") {
				queue = append(queue, o)
			}
		}
	}
	return c
}

// buildFlux builds one Flux Kustomization as kustomize-controller does: generator (a missing
// kustomization.yaml is generated; patches, images, namePrefix, targetNamespace, commonMetadata
// applied), kustomize build restricted to the repository, then postBuild substitution.
func (r *run) buildFlux(c *cluster, ks *object) []*object {
	r.mu.Lock()
	r.builds++
	r.mu.Unlock()
	via := ks.namespace + "/" + ks.name
	spec, _ := ks.u["spec"].(map[string]any)
	t := r.sourceTree(c, ks, spec)
	if t == nil {
		return nil
	}
	rel := layout.CleanFluxPath(stringAt(spec, "path"))
	dir := filepath.Join(t.root, filepath.FromSlash(rel))
	if !layout.IsDir(dir) {
		r.add(ks.finding(CheckFluxPath, []string{"spec", "path"}, fmt.Sprintf("path %q does not exist in %s", "./"+rel, t.name)))
		return nil
	}
	if !layout.HasKustomization(dir) {
		// Flux's generator parses every manifest under the folder, and a recursive YAML alias
		// crashes it: leave such folders to the file's own finding.
		if bad := t.badFileUnder(rel, r.badFiles); bad != "" {
			r.add(ks.finding(CheckBuild, []string{"spec", "path"}, fmt.Sprintf("./%s not built: %s is not valid YAML", rel, bad)))
			return nil
		}
	}
	u := unstructured.Unstructured{Object: runtime.DeepCopyJSON(ks.u)}
	manifest, kfile, _, err := fluxkustomize.NewGeneratorWithIgnore(t.root, "", u).GenerateManifest(dir)
	if err != nil {
		r.add(ks.finding(CheckBuild, []string{"spec"}, t.clean(fmt.Sprintf("generate kustomization for ./%s: %v", rel, err))))
		return nil
	}
	resources, err := r.kustomize(t, dir, kfile, manifest)
	if err != nil {
		f := ks.finding(CheckBuild, []string{"spec", "path"}, t.clean(fmt.Sprintf("kustomize build ./%s: %v", rel, err)))
		f.File, f.Line = t.repoPath(r.repo, kfile), 0
		if !layout.HasKustomization(dir) {
			f.File = rel
		}
		r.add(f)
		return nil
	}

	postBuild, hasPostBuild := spec["postBuild"].(map[string]any)
	vars := map[string]string{}
	if hasPostBuild {
		vars = r.substituteVars(c, ks, postBuild)
	}
	var out []*object
	for _, b := range resources {
		o := r.newObject(t, b, dir, c.name, via)
		if hasPostBuild {
			r.substitute(o, b.res, vars)
		}
		out = append(out, o)
	}
	return out
}

// kustomize builds dir with the generated kustomization in memory, so the working tree is never
// written, and records every kustomization root the build reads. Builds of the same kustomization
// over the same files are made once per run (buildCache).
func (r *run) kustomize(t *tree, dir, kfile string, manifest []byte) ([]builtResource, error) {
	manifest, err := withOriginAnnotations(manifest)
	if err != nil {
		return nil, err
	}
	disk, err := t.disk()
	if err != nil {
		return nil, err
	}
	// The root is reached even though kustomize reads its kustomization from memory.
	r.reach(t, kfile)
	mem := newGeneratedFS(&recordingFS{FileSystem: disk, read: func(p string) { r.reach(t, p) }}, kfile, manifest)
	if bytes.Contains(manifest, []byte("openapi:")) {
		// A custom openapi schema changes kyaml's global state: Flux's Build resets it around
		// every build, which costs ~60 ms, so korthops pays it only where it matters, alone, and
		// does not cache what depends on global state.
		r.v.openapiMu.Lock()
		resMap, err := fluxkustomize.Build(mem, dir)
		_ = openapi.Schema()
		r.v.openapiMu.Unlock()
		if err != nil {
			return nil, err
		}
		return describeAll(resMap.Resources())
	}
	key := string(manifest)
	if hit := r.cache.lookup(key, mem, dir); hit != nil {
		return hit.resources, nil
	}
	var fs kustfs.FileSystem = mem
	trace := &tracingFS{FileSystem: mem, cache: r.cache, dir: dir}
	if r.cache != nil {
		fs = trace
	}
	r.v.openapiMu.RLock()
	resMap, err := buildKustomization(fs, dir)
	r.v.openapiMu.RUnlock()
	if err != nil {
		return nil, err
	}
	built, err := describeAll(resMap.Resources())
	if err != nil {
		return nil, err
	}
	r.cache.store(key, trace, built)
	return built, nil
}

// reach records that a build read a file: a kustomization file makes its folder a reached root,
// which is not built again on its own.
func (r *run) reach(t *tree, file string) {
	if !slices.Contains(layout.KustomizationFileNames(), filepath.Base(file)) {
		return
	}
	root := path.Dir(t.repoPath(r.repo, file))
	r.mu.Lock()
	r.reachedRoots[root] = true
	r.mu.Unlock()
}

// buildKustomization runs kustomize with the options kustomize-controller uses (no load
// restrictions inside the secure root, builtin plugins only), recovering from kustomize panics.
func buildKustomization(fs kustfs.FileSystem, dir string) (res resmap.ResMap, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("kustomize panicked: %v", p)
		}
	}()
	return krusty.MakeKustomizer(&krusty.Options{
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	}).Run(fs, dir)
}

// buildPlain builds a kustomization root that no Flux Kustomization reaches.
func (r *run) buildPlain(root string) {
	dir := filepath.Join(r.repo.Root(), filepath.FromSlash(root))
	kfile := ""
	for _, n := range layout.KustomizationFileNames() {
		if p := filepath.Join(dir, n); layout.IsFile(p) {
			kfile = p
			break
		}
	}
	manifest, err := readFile(kfile)
	if err == nil {
		var resources []builtResource
		resources, err = r.kustomize(r.worktree, dir, kfile, manifest)
		for _, b := range resources {
			r.objects = append(r.objects, r.newObject(r.worktree, b, dir, "", ""))
		}
	}
	if err != nil {
		r.add(Finding{Check: CheckBuild, Severity: SeverityError, File: r.repo.Rel(kfile), Message: fmt.Sprintf("kustomize build %s: %v", root, err)})
	}
}

// withOriginAnnotations asks kustomize to record the source file of every resource.
func withOriginAnnotations(manifest []byte) ([]byte, error) {
	var k map[string]any
	if err := yaml.Unmarshal(manifest, &k); err != nil {
		return nil, fmt.Errorf("parse kustomization: %w", err)
	}
	if k == nil {
		k = map[string]any{}
	}
	meta, _ := k["buildMetadata"].([]any)
	if !slices.Contains(meta, any("originAnnotations")) {
		k["buildMetadata"] = append(meta, "originAnnotations")
	}
	return yaml.Marshal(k)
}

// builtResource is one resource out of kustomize, independent of where the build ran, so a cached
// build serves every folder it replays in. It is shared: read it, never change it.
type builtResource struct {
	// res is kept for postBuild substitution, of resources that have a "$" only.
	res *resource.Resource
	// origin is the source file relative to the build folder; empty means the kustomization.
	origin                            string
	json                              []byte
	u                                 map[string]any
	apiVersion, kind, namespace, name string
	ignore                            []string
}

func describeAll(resources []*resource.Resource) ([]builtResource, error) {
	out := make([]builtResource, len(resources))
	for i, res := range resources {
		var err error
		if out[i], err = describe(res); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// describe reads what korthops needs of a resource: the JSON kustomize-controller would apply, for
// kubeconform, and a map decoded straight from the node, for the checks.
func describe(res *resource.Resource) (builtResource, error) {
	var b builtResource
	if origin, err := res.GetOrigin(); err == nil && origin != nil {
		switch {
		case origin.Path != "" && origin.Repo == "":
			b.origin = origin.Path
		case origin.ConfiguredIn != "":
			b.origin = origin.ConfiguredIn
		}
	}
	ann := res.GetAnnotations()
	if _, ok := ann[originAnnotation]; ok {
		delete(ann, originAnnotation)
		if err := res.SetAnnotations(ann); err != nil {
			return b, err
		}
	}
	data, err := res.MarshalJSON()
	if err != nil {
		return b, fmt.Errorf("%s: %w", b.origin, err)
	}
	if err := res.Document().Decode(&b.u); err != nil {
		return b, fmt.Errorf("%s: %w", b.origin, err)
	}
	b.json = data
	if bytes.Contains(data, []byte("$")) {
		b.res = res
	}
	b.apiVersion, b.kind = res.GetApiVersion(), res.GetKind()
	b.namespace, b.name = res.GetNamespace(), res.GetName()
	for _, id := range strings.Split(ann[IgnoreAnnotation], ",") {
		if id = strings.TrimSpace(id); id != "" {
			b.ignore = append(b.ignore, id)
		}
	}
	return b, nil
}

// newObject places a built resource in the repository and the cluster.
func (r *run) newObject(t *tree, b builtResource, buildDir, clusterName, via string) *object {
	file := t.repoPath(r.repo, filepath.Join(buildDir, filepath.FromSlash(b.origin)))
	return &object{
		u: b.u, json: b.json, apiVersion: b.apiVersion, kind: b.kind, namespace: b.namespace, name: b.name,
		ignore: b.ignore, file: file, cluster: clusterName, via: via, r: r,
	}
}

// sourceTree resolves spec.sourceRef to the folder to build: the working tree for the bootstrap
// GitRepository flux-system and any GitRepository whose URL is this repository's origin; a staged
// copy for an ExternalArtifact that an ArtifactGenerator makes from those. Other sources are
// reported and not built.
func (r *run) sourceTree(c *cluster, ks *object, spec map[string]any) *tree {
	ref, _ := spec["sourceRef"].(map[string]any)
	kind, name := stringAt(ref, "kind"), stringAt(ref, "name")
	ns := stringAt(ref, "namespace")
	if ns == "" {
		ns = ks.namespace
	}
	field := []string{"spec", "sourceRef"}
	if kind == "" || name == "" {
		r.add(ks.finding(CheckFluxSource, field, "spec.sourceRef needs kind and name"))
		return nil
	}
	if kind == "ExternalArtifact" {
		if t, found := r.artifactSource(c, ks, ns, name); found {
			return t
		}
	}
	var src *object
	for _, o := range c.objects {
		if o.kind == kind && o.name == name && o.namespace == ns && o.group() == "source.toolkit.fluxcd.io" {
			src = o
		}
	}
	if src == nil {
		if kind == "GitRepository" && name == "flux-system" {
			return r.worktree // written by bootstrap; it points at this repository
		}
		r.add(ks.finding(CheckFluxSource, field, fmt.Sprintf("source %s %s/%s is not defined in cluster %s", kind, ns, name, c.name)))
		return nil
	}
	if r.isLocalSource(c, kind, ns, name) {
		return r.worktree
	}
	f := ks.finding(CheckExternalSource, field, fmt.Sprintf("external source, not validated: %s %s/%s", kind, ns, name))
	f.Severity = SeverityWarning
	r.add(f)
	return nil
}

func (r *run) isOrigin(url string) bool {
	norm := func(u string) string {
		u = strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
		for _, p := range []string{"https://", "http://", "ssh://"} {
			u = strings.TrimPrefix(u, p)
		}
		if at := strings.Index(u, "@"); at >= 0 {
			u = u[at+1:]
		}
		return strings.Replace(u, ":", "/", 1)
	}
	for _, o := range r.originURLs {
		if url != "" && norm(o) == norm(url) {
			return true
		}
	}
	return false
}

// substituteVars collects the postBuild variables: substituteFrom ConfigMaps and Secrets defined
// in the cluster, then the inline substitute map, which wins.
func (r *run) substituteVars(c *cluster, ks *object, postBuild map[string]any) map[string]string {
	vars := map[string]string{}
	from, _ := postBuild["substituteFrom"].([]any)
	for i, item := range from {
		ref, _ := item.(map[string]any)
		kind, name := stringAt(ref, "kind"), stringAt(ref, "name")
		optional, _ := ref["optional"].(bool)
		var src *object
		for _, o := range c.objects {
			if o.kind == kind && o.name == name && o.namespace == ks.namespace && o.apiVersion == "v1" {
				src = o
			}
		}
		if src == nil {
			if !optional {
				r.add(ks.finding(CheckSubstituteFrom, []string{"spec", "postBuild", "substituteFrom", fmt.Sprint(i)},
					fmt.Sprintf("%s %s/%s is not defined in cluster %s (mark it optional if it is created outside git)", kind, ks.namespace, name, c.name)))
			}
			continue
		}
		data, _ := src.u["data"].(map[string]any)
		for k, v := range data {
			s, _ := v.(string)
			if kind == "Secret" {
				if b, err := base64.StdEncoding.DecodeString(s); err == nil {
					s = string(b)
				}
			}
			vars[k] = strings.ReplaceAll(s, "\n", "")
		}
		if kind == "Secret" {
			string_, _ := src.u["stringData"].(map[string]any)
			for k, v := range string_ {
				vars[k] = strings.ReplaceAll(fmt.Sprint(v), "\n", "")
			}
		}
	}
	inline, _ := postBuild["substitute"].(map[string]any)
	for k, v := range inline {
		vars[k] = strings.ReplaceAll(fmt.Sprint(v), "\n", "")
	}
	return vars
}

var unsetVar = regexp.MustCompile(`variable not set \(strict mode\): "([^"]+)"`)

// substitute applies Flux's own substitution to one resource. Flux turns an undefined variable into
// an empty string silently; korthops runs it strictly and reports every such variable.
func (r *run) substitute(o *object, res *resource.Resource, vars map[string]string) {
	if !bytes.Contains(o.json, []byte("$")) || substitutionDisabled(o) {
		return // nothing to substitute: skip Flux's YAML round trips
	}
	subst := func(res *resource.Resource, vars map[string]string, strict bool) (*resource.Resource, error) {
		ks := unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"postBuild": map[string]any{"substitute": anyMap(vars)}}}}
		return fluxkustomize.SubstituteVariables(r.ctx, nil, ks, res, fluxkustomize.SubstituteWithDryRun(true),
			fluxkustomize.SubstituteWithStrict(strict), fluxkustomize.SubstituteWithAlways(strict))
	}
	out, err := subst(res.DeepCopy(), vars, true)
	if err != nil {
		probe := maps.Clone(vars)
		for range 100 {
			m := unsetVar.FindStringSubmatch(err.Error())
			if m == nil {
				r.add(o.finding(CheckUnresolvedVar, nil, fmt.Sprintf("postBuild substitution: %v", err)))
				return
			}
			f := o.finding(CheckUnresolvedVar, nil, fmt.Sprintf("variable ${%s} is not defined by the postBuild of %s: Flux would replace it with an empty string; define it, escape it as $${%s}, or annotate the resource kustomize.toolkit.fluxcd.io/substitute: disabled", m[1], o.via, m[1]))
			if line := r.sources.lineOf(o.file, "${"+m[1]); line > 0 {
				f.Line = line
			}
			r.add(f)
			probe[m[1]] = ""
			if _, err = subst(res.DeepCopy(), probe, true); err == nil {
				break
			}
		}
		// Carry on with what Flux would apply.
		if out, err = subst(res.DeepCopy(), vars, false); err != nil {
			r.add(o.finding(CheckUnresolvedVar, nil, fmt.Sprintf("postBuild substitution: %v", err)))
			return
		}
	}
	if out == nil {
		return // substitution disabled for this resource
	}
	b, err := describe(out)
	if err != nil {
		r.add(o.finding(CheckUnresolvedVar, nil, err.Error()))
		return
	}
	o.u, o.json, o.apiVersion, o.kind, o.namespace, o.name, o.ignore = b.u, b.json, b.apiVersion, b.kind, b.namespace, b.name, b.ignore
}

// substitutionDisabled is Flux's opt-out: the label or annotation
// kustomize.toolkit.fluxcd.io/substitute: disabled.
func substitutionDisabled(o *object) bool {
	meta, _ := o.u["metadata"].(map[string]any)
	for _, field := range []string{"labels", "annotations"} {
		if stringAt(meta[field], "kustomize.toolkit.fluxcd.io/substitute") == fluxkustomize.DisabledValue {
			return true
		}
	}
	return false
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func stringAt(m any, key string) string {
	mm, _ := m.(map[string]any)
	s, _ := mm[key].(string)
	return s
}

func metaString(u map[string]any, key string) string { return stringAt(u["metadata"], key) }

// recordingFS reports every file kustomize reads, and refuses files that would crash it.
type recordingFS struct {
	kustfs.FileSystem
	read func(path string)
}

func (f *recordingFS) ReadFile(p string) ([]byte, error) {
	f.read(p)
	return f.FileSystem.ReadFile(p)
}

// readOnceFS answers each read of a tree once per run: the files do not change while korthops
// runs, and every cluster of a fleet reads the same bases. The bytes it returns are shared:
// kustomize only parses them.
type readOnceFS struct {
	kustfs.FileSystem
	mu     sync.Mutex
	files  map[string]readResult
	exists map[string]bool
	dirs   map[string]bool
}

type readResult struct {
	data []byte
	err  error
}

func newReadOnceFS(fs kustfs.FileSystem) *readOnceFS {
	return &readOnceFS{FileSystem: fs, files: map[string]readResult{}, exists: map[string]bool{}, dirs: map[string]bool{}}
}

func (f *readOnceFS) ReadFile(p string) ([]byte, error) {
	res := once(&f.mu, f.files, p, func() readResult {
		data, err := f.FileSystem.ReadFile(p)
		if err == nil {
			err = safeForKustomize(data)
			if err != nil {
				return readResult{err: fmt.Errorf("%s: %w", p, err)}
			}
		}
		return readResult{data, err}
	})
	return res.data, res.err
}

func (f *readOnceFS) Exists(p string) bool {
	return once(&f.mu, f.exists, p, func() bool { return f.FileSystem.Exists(p) })
}

func (f *readOnceFS) IsDir(p string) bool {
	return once(&f.mu, f.dirs, p, func() bool { return f.FileSystem.IsDir(p) })
}

// once returns m[key], computing it with get the first time. Two goroutines may both compute a
// missing value; they find the same.
func once[V any](mu *sync.Mutex, m map[string]V, key string, get func() V) V {
	mu.Lock()
	v, ok := m[key]
	mu.Unlock()
	if !ok {
		v = get()
		mu.Lock()
		m[key] = v
		mu.Unlock()
	}
	return v
}

// safeForKustomize rejects YAML that kyaml cannot survive: an alias that refers to its own anchor
// recurses without end in kyaml's de-anchoring and kills the process, where yaml.v3 reports it.
// Only documents with anchors pay for the extra parse.
func safeForKustomize(data []byte) error {
	if !bytes.Contains(data, []byte("&")) || !bytes.Contains(data, []byte("*")) {
		return nil
	}
	nodes, err := layout.ParseYAML(data)
	if err != nil {
		return nil // kustomize reports plain syntax errors itself
	}
	for _, n := range nodes {
		var v any
		if err := n.Decode(&v); err != nil && strings.Contains(err.Error(), "anchor") {
			return err
		}
	}
	return nil
}

// generatedFS adds the generated kustomization to a tree read from disk, in memory, so the working
// tree is never written. Unlike kustomize's own in-memory file system it accepts any folder name
// (kustomize's refuses spaces and commas, which users' paths have).
type generatedFS struct {
	kustfs.FileSystem
	kfile string
	data  []byte
	// onDisk tells whether the tree itself has the kustomization file that data replaces.
	onDisk bool
}

func newGeneratedFS(disk kustfs.FileSystem, kfile string, data []byte) *generatedFS {
	return &generatedFS{FileSystem: disk, kfile: kfile, data: data, onDisk: disk.Exists(kfile)}
}

func (f *generatedFS) ReadFile(p string) ([]byte, error) {
	if p == f.kfile {
		return f.data, nil
	}
	return f.FileSystem.ReadFile(p)
}

func (f *generatedFS) Exists(p string) bool { return p == f.kfile || f.FileSystem.Exists(p) }

func (f *generatedFS) IsDir(p string) bool { return p != f.kfile && f.FileSystem.IsDir(p) }

func (f *generatedFS) Open(p string) (kustfs.File, error) {
	if p == f.kfile {
		return nil, fmt.Errorf("open %s: the generated kustomization can only be read whole", p)
	}
	return f.FileSystem.Open(p)
}

func (f *generatedFS) ReadDir(p string) ([]string, error) {
	names, err := f.FileSystem.ReadDir(p)
	if err == nil && !f.onDisk && p == filepath.Dir(f.kfile) {
		names = append(names, filepath.Base(f.kfile))
		slices.Sort(names)
	}
	return names, err
}

func (f *generatedFS) Glob(pattern string) ([]string, error) {
	matches, err := f.FileSystem.Glob(pattern)
	if ok, _ := filepath.Match(pattern, f.kfile); err == nil && ok && !f.onDisk {
		matches = append(matches, f.kfile)
		slices.Sort(matches)
	}
	return matches, err
}

func (f *generatedFS) Walk(p string, fn filepath.WalkFunc) error {
	if !f.onDisk && strings.HasPrefix(f.kfile, p+string(filepath.Separator)) {
		return fmt.Errorf("walk %s: not supported over a generated kustomization", p)
	}
	return f.FileSystem.Walk(p, fn)
}

// Writes would reach the working tree: kustomize makes none while building.
func (f *generatedFS) Create(p string) (kustfs.File, error) { return nil, errReadOnly(p) }
func (f *generatedFS) Mkdir(p string) error                 { return errReadOnly(p) }
func (f *generatedFS) MkdirAll(p string) error              { return errReadOnly(p) }
func (f *generatedFS) RemoveAll(p string) error             { return errReadOnly(p) }
func (f *generatedFS) WriteFile(p string, _ []byte) error   { return errReadOnly(p) }

func errReadOnly(p string) error {
	return fmt.Errorf("%s: the repository is read-only while korthops builds", p)
}
