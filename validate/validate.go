// Package validate checks a Flux repository offline: it builds every cluster the way
// kustomize-controller would (generator, patches, postBuild substitution), validates every resource
// with kubeconform against the embedded schema catalog, runs the cross-reference checks that a
// schema cannot express, and reports each finding with the file and line it comes from.
package validate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/korthops/korthops/layout"
	"github.com/yannh/kubeconform/pkg/resource"
	"github.com/yannh/kubeconform/pkg/validator"
)

// Opts configure a Validator.
type Opts struct {
	// KubernetesVersion selects the core schemas ("1.36" or "1.36.3"); empty means the newest.
	KubernetesVersion string
	// SchemaLocations are extra kubeconform schema locations, searched after the repository's own
	// CRDs and the embedded catalog.
	SchemaLocations []string
	// SkipKinds are kinds not validated against a schema.
	SkipKinds []string
	// IgnoreMissingSchemas turns a kind without a schema from an error into a skip.
	IgnoreMissingSchemas bool
	// SkipChecks silences checks by ID everywhere; the korthops.dev/ignore annotation silences
	// them per resource.
	SkipChecks []string
	// Cluster restricts validation to one cluster entry point (its folder name or path).
	Cluster string
	// Clusters restricts validation to these cluster entry points, with Cluster.
	Clusters []string
	// ChangedSince (a git revision) restricts validation to the clusters and kustomization roots
	// that can read a file changed since that revision.
	ChangedSince string
	// CacheDir holds the extracted schema catalog; empty means the user cache directory.
	CacheDir string
	// Workers validate resources in parallel; 0 means one per CPU.
	Workers int
}

// Validator validates repositories. It is safe to reuse; each Validate call compiles each schema
// it needs once.
type Validator struct {
	opts       Opts
	catalog    *Catalog
	k8sVersion string
	objectMeta map[string]any
	// openapiMu lets builds run in parallel except those that change kyaml's global OpenAPI schema.
	openapiMu sync.RWMutex
	// buildOnly skips schema validation and checks, to measure what building alone costs.
	buildOnly bool
	// noBuildCache builds every kustomization, to prove that the build cache changes no result.
	noBuildCache bool
}

// New checks the options and extracts the schema catalog.
func New(opts Opts) (*Validator, error) {
	version, err := ResolveKubernetesVersion(opts.KubernetesVersion)
	if err != nil {
		return nil, err
	}
	if opts.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		opts.CacheDir = filepath.Join(base, "korthops")
	}
	cat, err := OpenCatalog(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	meta, err := cat.objectMeta()
	if err != nil {
		return nil, err
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	return &Validator{opts: opts, catalog: cat, k8sVersion: version, objectMeta: meta}, nil
}

// KubernetesVersion is the Kubernetes version whose schemas the validator uses.
func (v *Validator) KubernetesVersion() string { return v.k8sVersion }

// Validate checks the repository rooted at dir. Problems in the repository are findings in the
// report; the error is for problems that stop the run (unreadable repository, bad options).
func (v *Validator) Validate(ctx context.Context, dir string) (*Report, error) {
	run, err := v.validate(ctx, dir)
	if err != nil {
		return nil, err
	}
	run.close()
	return run.report(), nil
}

func (v *Validator) validate(ctx context.Context, dir string) (*run, error) {
	run, err := newRun(ctx, v, dir)
	if err != nil {
		return nil, err
	}
	if err := run.buildAll(); err != nil {
		run.close()
		return nil, err
	}
	if v.buildOnly {
		return run, nil
	}
	if err := run.validateSchemas(); err != nil {
		run.close()
		return nil, err
	}
	run.crossReference()
	return run, nil
}

// validateSchemas runs kubeconform over every built object, in parallel; kubeconform caches each
// compiled schema for the whole run.
func (r *run) validateSchemas() error {
	crdDir, err := os.MkdirTemp("", "korthops-crds-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(crdDir)
	locations, err := r.repositoryCRDLocations(crdDir)
	if err != nil {
		return err
	}
	locations = append(locations, r.v.catalog.Locations()...)
	locations = append(locations, r.v.opts.SchemaLocations...)
	skip := map[string]struct{}{}
	for _, k := range r.v.opts.SkipKinds {
		skip[k] = struct{}{}
	}
	kc, err := validator.New(locations, validator.Opts{
		KubernetesVersion:    r.v.k8sVersion,
		Strict:               true,
		SkipKinds:            skip,
		IgnoreMissingSchemas: r.v.opts.IgnoreMissingSchemas,
	})
	if err != nil {
		return fmt.Errorf("kubeconform: %w", err)
	}
	// Clusters of one fleet share most of their objects byte for byte: validate each once.
	var mu sync.Mutex
	results := map[string]validator.Result{}
	jobs := make(chan *object)
	var wg sync.WaitGroup
	for range r.v.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range jobs {
				mu.Lock()
				res, ok := results[string(o.json)]
				mu.Unlock()
				if !ok {
					res = kc.ValidateResource(resource.Resource{Path: o.file, Bytes: o.json})
					mu.Lock()
					results[string(o.json)] = res
					mu.Unlock()
				}
				r.add(schemaFindings(o, res)...)
			}
		}()
	}
	for _, o := range r.objects {
		if r.ctx.Err() != nil {
			break
		}
		jobs <- o
	}
	close(jobs)
	wg.Wait()
	return r.ctx.Err()
}

func schemaFindings(o *object, res validator.Result) []Finding {
	switch res.Status {
	case validator.Invalid:
		var out []Finding
		for _, ve := range res.ValidationErrors {
			field := pointerToPath(ve.Path)
			// Point at the unknown field itself, not at the object that holds it.
			if m := additionalProperty.FindStringSubmatch(ve.Msg); m != nil {
				field = append(field, m[1])
			}
			out = append(out, o.finding(CheckSchema, field, ve.Msg))
		}
		if len(out) == 0 && res.Err != nil {
			out = append(out, o.finding(CheckSchema, nil, res.Err.Error()))
		}
		return out
	case validator.Error:
		msg := res.Err.Error()
		if strings.Contains(msg, "could not find schema") {
			return []Finding{o.finding(CheckSchemaMissing, nil, fmt.Sprintf("no schema for %s %s: add its CRD to the repository, pass --schema-location, or skip it with --skip-kinds %s", o.apiVersion, o.kind, o.kind))}
		}
		return []Finding{o.finding(CheckSchema, nil, msg)}
	}
	return nil
}

var additionalProperty = regexp.MustCompile(`^additional properties? '([^']+)' not allowed$`)

// pointerToPath splits a JSON pointer ("/spec/replicas") into its segments.
func pointerToPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
	}
	return parts
}

// Clusters lists the cluster entry points Validate would check in dir, for --cluster completion
// and messages.
func Clusters(dir string) ([]string, error) {
	repo, err := layout.Open(dir)
	if err != nil {
		return nil, err
	}
	docs, _, err := repo.Documents()
	if err != nil {
		return nil, err
	}
	return slices.Clone(layout.EntryPoints(docs)), nil
}
