package layout

import (
	"path"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Every kustomization root of the checked-in repository builds with kustomize, and each cluster's
// overlays hold the kinds its ingress choice needs, and none of the other ingress's.
func TestEveryRootBuilds(t *testing.T) {
	r, err := Open("..")
	if err != nil {
		t.Fatal(err)
	}
	roots, err := r.KustomizationRoots()
	if err != nil {
		t.Fatal(err)
	}
	clusters, err := r.Clusters()
	if err != nil {
		t.Fatal(err)
	}
	ingressOf := map[string]string{}
	for _, c := range clusters {
		ingressOf[c.Name] = c.Ingress
	}
	istioKinds := []string{"Gateway", "VirtualService", "DestinationRule", "AuthorizationPolicy"}
	traefikKinds := []string{"IngressRoute", "IngressRouteTCP", "TLSOption"}
	expect := func(root string) (want, unwanted []string) {
		parts := strings.Split(root, "/")
		switch {
		case len(parts) == 3 && parts[0] == appsDir && parts[1] == overlaysDir:
			want = []string{"Namespace", "Deployment", "Service", "ConfigMap", "ServiceAccount", "ServiceMonitor", "Certificate", "HelmRepository", "HelmRelease"}
			if ingressOf[parts[2]] == IngressIstio {
				return append(want, istioKinds...), traefikKinds
			}
			return append(want, traefikKinds...), istioKinds
		case len(parts) == 4 && parts[0] == infrastructureDir && parts[3] == "configs":
			want = []string{"ClusterIssuer", "Certificate"}
			if ingressOf[parts[2]] == IngressIstio {
				return append(want, "PeerAuthentication"), nil
			}
			return want, []string{"PeerAuthentication"}
		}
		return nil, nil
	}

	fs := filesys.MakeFsOnDisk()
	kustomizer := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	overlays := 0
	for _, root := range roots {
		t.Run(root, func(t *testing.T) {
			resMap, err := kustomizer.Run(fs, path.Join(r.Root(), root))
			if err != nil {
				t.Fatalf("kustomize build %s: %v", root, err)
			}
			if resMap.Size() == 0 {
				t.Fatalf("%s builds no resources", root)
			}
			var kinds []string
			for _, res := range resMap.Resources() {
				kinds = append(kinds, res.GetKind())
			}
			want, unwanted := expect(root)
			if want != nil {
				overlays++
			}
			for _, k := range want {
				if !slices.Contains(kinds, k) {
					t.Errorf("%s: no %s in %v", root, k, kinds)
				}
			}
			for _, k := range unwanted {
				if slices.Contains(kinds, k) {
					t.Errorf("%s: unexpected %s for cluster ingress %s", root, k, ingressOf[strings.Split(root, "/")[2]])
				}
			}
		})
	}
	if want := 2 * len(clusters); overlays != want {
		t.Errorf("checked %d apps/configs overlays, want %d (roots: %v)", overlays, want, roots)
	}
}
