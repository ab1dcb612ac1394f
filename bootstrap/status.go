package bootstrap

import (
	"context"
	"fmt"
	"sort"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ObjectStatus is the readiness of one Flux object.
type ObjectStatus struct {
	Kind      string    `json:"kind"`
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Ready     string    `json:"ready"` // True, False or Unknown
	Revision  string    `json:"revision,omitempty"`
	Message   string    `json:"message,omitempty"`
	Created   time.Time `json:"created"`
	Suspended bool      `json:"suspended,omitempty"`
}

// Status lists the Flux sources, Kustomizations and HelmReleases of the cluster that kubeconfig
// and context point at, sorted by kind, namespace and name.
func Status(ctx context.Context, kubeconfig, kubeContext string) ([]ObjectStatus, error) {
	cfg, err := restConfig(kubeconfig, kubeContext)
	if err != nil {
		return nil, err
	}
	s := newScheme()
	_ = helmv2.AddToScheme(s)
	kube, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return nil, err
	}
	var out []ObjectStatus
	add := func(kind string, obj metav1.Object, conds []metav1.Condition, revision string, suspended bool) {
		st := ObjectStatus{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Ready: "Unknown",
			Revision: revision, Created: obj.GetCreationTimestamp().Time, Suspended: suspended}
		if c := apimeta.FindStatusCondition(conds, meta.ReadyCondition); c != nil {
			st.Ready, st.Message = string(c.Status), c.Message
		}
		out = append(out, st)
	}
	var gits sourcev1.GitRepositoryList
	if err := kube.List(ctx, &gits); err != nil {
		return nil, fmt.Errorf("list GitRepositories (is Flux installed?): %w", err)
	}
	for i := range gits.Items {
		g := &gits.Items[i]
		add("GitRepository", g, g.Status.Conditions, artifactRevision(g.Status.Artifact), g.Spec.Suspend)
	}
	var ocis sourcev1.OCIRepositoryList
	if err := kube.List(ctx, &ocis); err == nil {
		for i := range ocis.Items {
			o := &ocis.Items[i]
			add("OCIRepository", o, o.Status.Conditions, artifactRevision(o.Status.Artifact), o.Spec.Suspend)
		}
	}
	var helmRepos sourcev1.HelmRepositoryList
	if err := kube.List(ctx, &helmRepos); err == nil {
		for i := range helmRepos.Items {
			h := &helmRepos.Items[i]
			add("HelmRepository", h, h.Status.Conditions, artifactRevision(h.Status.Artifact), h.Spec.Suspend)
		}
	}
	var kss kustomizev1.KustomizationList
	if err := kube.List(ctx, &kss); err != nil {
		return nil, fmt.Errorf("list Kustomizations: %w", err)
	}
	for i := range kss.Items {
		k := &kss.Items[i]
		add("Kustomization", k, k.Status.Conditions, k.Status.LastAppliedRevision, k.Spec.Suspend)
	}
	var hrs helmv2.HelmReleaseList
	if err := kube.List(ctx, &hrs); err == nil {
		for i := range hrs.Items {
			h := &hrs.Items[i]
			rev := ""
			if latest := h.Status.History.Latest(); latest != nil {
				rev = latest.ChartVersion
			}
			add("HelmRelease", h, h.Status.Conditions, rev, h.Spec.Suspend)
		}
	}
	order := map[string]int{"GitRepository": 0, "OCIRepository": 1, "HelmRepository": 2, "Kustomization": 3, "HelmRelease": 4}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if order[a.Kind] != order[b.Kind] {
			return order[a.Kind] < order[b.Kind]
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out, nil
}

func artifactRevision(a *meta.Artifact) string {
	if a == nil {
		return ""
	}
	return a.Revision
}
