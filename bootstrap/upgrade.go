package bootstrap

import (
	"context"
	"fmt"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/flux2/v2/pkg/manifestgen/install"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/normalize"
	ssautil "github.com/fluxcd/pkg/ssa/utils"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// upgradeComponents applies the components of this korthops's Flux release to a cluster where
// Flux already runs. flux2's bootstrap leaves that to Flux itself once the flux-system
// Kustomization has applied something, so a controller too old to reconcile the new manifests
// would never be upgraded; server-side apply changes nothing when the components are current.
func (c *clusterClient) upgradeComponents(ctx context.Context, log *logger, manifestsBase string, opts install.Options) error {
	var ks kustomizev1.Kustomization
	err := c.kube.Get(ctx, client.ObjectKey{Namespace: opts.Namespace, Name: opts.Namespace}, &ks)
	if apierrors.IsNotFound(err) || err == nil && ks.Status.LastAppliedRevision == "" {
		return nil // a first install: flux2's bootstrap has applied the components
	}
	if err != nil {
		return err
	}
	manifests, err := install.Generate(opts, manifestsBase)
	if err != nil {
		return fmt.Errorf("generate Flux components: %w", err)
	}
	objects, err := ssautil.ReadObjects(strings.NewReader(manifests.Content))
	if err != nil {
		return err
	}
	if err := normalize.UnstructuredList(objects); err != nil {
		return err
	}
	mapper := c.kube.RESTMapper()
	manager := ssa.NewResourceManager(c.kube, polling.NewStatusPoller(c.kube, mapper, polling.Options{}),
		ssa.Owner{Field: "flux", Group: "fluxcd.io"})
	changes, err := manager.ApplyAllStaged(ctx, objects, ssa.DefaultApplyOptions())
	if err != nil {
		return fmt.Errorf("apply Flux %s components: %w", opts.Version, err)
	}
	changed := 0
	for _, e := range changes.Entries {
		if e.Action != ssa.UnchangedAction {
			changed++
		}
	}
	if changed > 0 {
		log.Successf("upgraded Flux components to %s (%d objects changed)", opts.Version, changed)
	} else {
		log.Successf("Flux components are at %s", opts.Version)
	}
	return nil
}
