package bootstrap

import (
	"fmt"
	"io"
	"strings"

	"github.com/fluxcd/flux2/v2/pkg/manifestgen/install"
	"github.com/fluxcd/flux2/v2/pkg/manifestgen/sync"
)

// dryRun prints what bootstrap would commit and apply, and changes nothing.
func dryRun(out io.Writer, manifestsBase string, installOpts install.Options, syncOpts sync.Options) error {
	components, err := install.Generate(installOpts, manifestsBase)
	if err != nil {
		return fmt.Errorf("generate Flux components: %w", err)
	}
	syncManifests, err := sync.Generate(syncOpts)
	if err != nil {
		return fmt.Errorf("generate Flux sync manifests: %w", err)
	}
	fmt.Fprintf(out, "dry run: nothing is committed or applied\nwould commit %s (Flux %s, %d objects) to %s on branch %s\n",
		components.Path, installOpts.Version, strings.Count(components.Content, "\nkind: "), redactURL(syncOpts.URL), syncOpts.Branch)
	fmt.Fprintf(out, "would commit %s:\n%s", syncManifests.Path, syncManifests.Content)
	fmt.Fprintf(out, "would create secrets if missing: flux-system/flux-system (git credentials)")
	for _, s := range appSecrets() {
		fmt.Fprintf(out, ", %s/%s", s.namespace, s.name)
	}
	fmt.Fprintln(out)
	return nil
}
