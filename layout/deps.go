package layout

import (
	"os"
	"path"
	"strings"

	"sigs.k8s.io/yaml"
)

// Reach is the set of repository files a build can read: files by name, and whole folders that
// Flux's generator scans (so a file added or deleted there counts too).
type Reach struct {
	files   map[string]bool
	folders []string
}

// Touches reports whether any of the changed files can affect the build.
func (rc *Reach) Touches(changed []string) bool {
	for _, f := range changed {
		if rc.files[f] {
			return true
		}
		for _, d := range rc.folders {
			if d == "." || strings.HasPrefix(f, d+"/") {
				return true
			}
		}
	}
	return false
}

// Dependencies computes, without building anything, what a cluster entry point or a
// kustomization root can read: the kustomization files, their resources, components, patches and
// generator files, and, through every Flux Kustomization found on the way, the paths they apply.
//
// A Dependencies is for one goroutine: it remembers the kustomization files it has read.
type Dependencies struct {
	r       *Repo
	files   []string
	present map[string]bool
	docs    map[string][]Document // by file
	refs    map[string][]string   // paths each kustomization file names, read once
}

// NewDependencies indexes the repository's files and documents.
func (r *Repo) NewDependencies(docs []Document) (*Dependencies, error) {
	files, err := r.Files()
	if err != nil {
		return nil, err
	}
	d := &Dependencies{r: r, files: files, present: map[string]bool{}, docs: map[string][]Document{}, refs: map[string][]string{}}
	for _, f := range files {
		d.present[f] = true
	}
	for _, doc := range docs {
		d.docs[doc.File] = append(d.docs[doc.File], doc)
	}
	return d, nil
}

// Of returns the reach of a folder built as Flux builds a Kustomization's path.
func (d *Dependencies) Of(dir string) *Reach {
	rc := &Reach{files: map[string]bool{}}
	seen := map[string]bool{}
	d.walk(CleanFluxPath(dir), rc, seen)
	return rc
}

func (d *Dependencies) walk(dir string, rc *Reach, seen map[string]bool) {
	if seen[dir] {
		return
	}
	seen[dir] = true
	before := len(rc.files)
	if kfile := d.kustomizationFile(dir); kfile != "" {
		d.kustomization(dir, kfile, rc, seen)
	} else {
		// Flux generates a kustomization of every manifest under the folder.
		rc.folders = append(rc.folders, dir)
		for _, f := range d.files {
			if dir == "." || strings.HasPrefix(f, dir+"/") {
				rc.files[f] = true
			}
		}
	}
	if len(rc.files) == before {
		return
	}
	// Flux Kustomizations applied by this build reach further.
	for f := range rc.files {
		for _, doc := range d.docs[f] {
			if !doc.IsFluxKustomization() {
				continue
			}
			spec, _ := doc.Object["spec"].(map[string]any)
			ref, _ := spec["sourceRef"].(map[string]any)
			if ref["kind"] == "ExternalArtifact" {
				// An ArtifactGenerator may copy any file of the repository into the artifact.
				rc.folders = append(rc.folders, ".")
				continue
			}
			d.walk(doc.FluxPath(), rc, seen)
		}
	}
}

func (d *Dependencies) kustomizationFile(dir string) string {
	for _, name := range KustomizationFileNames() {
		p := path.Join(dir, name)
		if d.present[p] {
			return p
		}
	}
	return ""
}

// kustomization follows every local path a kustomization file names.
func (d *Dependencies) kustomization(dir, kfile string, rc *Reach, seen map[string]bool) {
	rc.files[kfile] = true
	refs, ok := d.refs[kfile]
	if !ok {
		refs = d.readRefs(kfile)
		d.refs[kfile] = refs
	}
	for _, ref := range refs {
		if strings.Contains(ref, "://") || strings.Contains(ref, "\n") || strings.HasPrefix(ref, "/") {
			continue // remote bases and inline patches read no repository file
		}
		p := path.Clean(path.Join(dir, ref))
		if d.present[p] {
			rc.files[p] = true
		} else {
			d.walk(p, rc, seen)
		}
	}
}

// readRefs lists the paths a kustomization file names.
func (d *Dependencies) readRefs(kfile string) []string {
	data, err := os.ReadFile(d.r.abs(kfile))
	if err != nil {
		return nil
	}
	var k map[string]any
	if yaml.Unmarshal(data, &k) != nil {
		return nil
	}
	var refs []string
	for _, field := range []string{"resources", "bases", "components", "crds", "generators", "transformers", "validators", "configurations", "patchesStrategicMerge"} {
		for _, v := range asList(k[field]) {
			if s, ok := v.(string); ok {
				refs = append(refs, s)
			}
		}
	}
	for _, field := range []string{"patches", "patchesJson6902", "replacements"} {
		for _, v := range asList(k[field]) {
			if m, ok := v.(map[string]any); ok {
				if s, ok := m["path"].(string); ok {
					refs = append(refs, s)
				}
			}
		}
	}
	for _, field := range []string{"configMapGenerator", "secretGenerator"} {
		for _, v := range asList(k[field]) {
			m, _ := v.(map[string]any)
			for _, f := range asList(m["files"]) {
				if s, ok := f.(string); ok {
					if _, file, ok := strings.Cut(s, "="); ok {
						s = file
					}
					refs = append(refs, s)
				}
			}
			for _, f := range append(asList(m["envs"]), m["env"]) {
				if s, ok := f.(string); ok {
					refs = append(refs, s)
				}
			}
		}
	}
	if o, ok := k["openapi"].(map[string]any); ok {
		if s, ok := o["path"].(string); ok {
			refs = append(refs, s)
		}
	}
	return refs
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}
