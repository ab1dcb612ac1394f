package validate

import (
	"cmp"
	"slices"
)

// Report is the outcome of one Validate call.
type Report struct {
	KubernetesVersion string    `json:"kubernetesVersion"`
	Clusters          []string  `json:"clusters"`
	Kustomizations    int       `json:"kustomizations"`
	Roots             int       `json:"roots"`
	Resources         int       `json:"resources"`
	Findings          []Finding `json:"findings"`
	// Skipped are the clusters --changed-since left out, with the reason.
	Skipped []Skipped `json:"skipped,omitempty"`
}

// Skipped is a cluster that was not validated.
type Skipped struct {
	Cluster string `json:"cluster"`
	Reason  string `json:"reason"`
}

// Errors counts the findings of severity error.
func (r *Report) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SeverityError {
			n++
		}
	}
	return n
}

// Valid reports whether the repository has no error findings.
func (r *Report) Valid() bool { return r.Errors() == 0 }

func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Check, b.Check),
			cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Message, b.Message))
	})
}
