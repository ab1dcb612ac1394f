package validate

import (
	"fmt"
	"slices"
	"strings"
)

// builtinNamespaces exist in every cluster; flux-system is created by the Flux install.
var builtinNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease", "flux-system"}

// clusterScopedKinds are the cluster-scoped kinds korthops knows without a CRD to tell.
var clusterScopedKinds = []string{
	"Namespace", "Node", "PersistentVolume", "StorageClass", "CSIDriver", "CSINode", "VolumeAttachment",
	"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService", "PriorityClass",
	"RuntimeClass", "IngressClass", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
	"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ClusterIssuer", "GatewayClass",
	"CertificateSigningRequest", "FlowSchema", "PriorityLevelConfiguration",
}

// index finds the objects of one cluster by group, kind, namespace and name.
type index map[string][]*object

func key(group, kind, namespace, name string) string {
	return group + "|" + kind + "|" + namespace + "|" + name
}

func (ix index) get(group, kind, namespace, name string) *object {
	if objs := ix[key(group, kind, namespace, name)]; len(objs) > 0 {
		return objs[0]
	}
	return nil
}

// crossReference runs the checks a schema cannot express, per cluster.
func (r *run) crossReference() {
	for _, c := range r.clusters {
		r.checkCluster(c)
	}
}

func (r *run) checkCluster(c *cluster) {
	ix := index{}
	namespaces := map[string]bool{}
	for _, n := range builtinNamespaces {
		namespaces[n] = true
	}
	scoped := slices.Clone(clusterScopedKinds)
	for _, o := range c.objects {
		k := key(o.group(), o.kind, o.namespace, o.name)
		if prev := ix[k]; len(prev) > 0 {
			r.add(o.finding(CheckDuplicate, []string{"metadata", "name"}, fmt.Sprintf("%s is also defined in %s (via %s); Flux would apply both and the last one wins", o.id(), prev[0].file, prev[0].via)))
		}
		ix[k] = append(ix[k], o)
		switch {
		case o.kind == "Namespace" && o.apiVersion == "v1":
			namespaces[o.name] = true
		case o.kind == "HelmRelease" && o.group() == "helm.toolkit.fluxcd.io":
			spec := asMap(o.u["spec"])
			if create, _ := asMap(spec["install"])["createNamespace"].(bool); create {
				if ns := stringAt(spec, "targetNamespace"); ns != "" {
					namespaces[ns] = true
				}
			}
		case o.kind == "CustomResourceDefinition":
			if stringAt(o.u["spec"], "scope") == "Cluster" {
				scoped = append(scoped, stringAt(asMap(o.u["spec"])["names"], "kind"))
			}
		}
	}
	for _, o := range c.objects {
		r.checkReferences(c, ix, o)
		if o.namespace != "" && !namespaces[o.namespace] && !slices.Contains(scoped, o.kind) {
			r.add(o.finding(CheckNamespace, []string{"metadata", "namespace"}, fmt.Sprintf("namespace %q is never created in cluster %s", o.namespace, c.name)))
		}
	}
	r.checkDependsOnCycles(c)
}

func (r *run) checkReferences(c *cluster, ix index, o *object) {
	spec := asMap(o.u["spec"])
	missing := func(check string, field []string, format string, args ...any) {
		r.add(o.finding(check, field, fmt.Sprintf(format, args...)+" in cluster "+c.name))
	}
	switch {
	case o.kind == "Kustomization" && o.group() == "kustomize.toolkit.fluxcd.io":
		for i, d := range asSlice(spec["dependsOn"]) {
			name, ns := stringAt(d, "name"), or(stringAt(d, "namespace"), o.namespace)
			if ix.get("kustomize.toolkit.fluxcd.io", "Kustomization", ns, name) == nil {
				missing(CheckDependsOn, []string{"spec", "dependsOn", fmt.Sprint(i), "name"}, "dependsOn: Kustomization %s/%s does not exist", ns, name)
			}
		}
	case o.kind == "HelmRelease" && o.group() == "helm.toolkit.fluxcd.io":
		if ref := asMap(asMap(asMap(spec["chart"])["spec"])["sourceRef"]); ref != nil {
			kind, name, ns := stringAt(ref, "kind"), stringAt(ref, "name"), or(stringAt(ref, "namespace"), o.namespace)
			if ix.get("source.toolkit.fluxcd.io", kind, ns, name) == nil {
				missing(CheckHelmChartSource, []string{"spec", "chart", "spec", "sourceRef", "name"}, "chart source %s %s/%s does not exist", kind, ns, name)
			}
		}
		if ref := asMap(spec["chartRef"]); ref != nil {
			kind, name, ns := stringAt(ref, "kind"), stringAt(ref, "name"), or(stringAt(ref, "namespace"), o.namespace)
			if ix.get("source.toolkit.fluxcd.io", kind, ns, name) == nil {
				missing(CheckHelmChartSource, []string{"spec", "chartRef", "name"}, "chartRef %s %s/%s does not exist", kind, ns, name)
			}
		}
		for i, v := range asSlice(spec["valuesFrom"]) {
			kind, name := stringAt(v, "kind"), stringAt(v, "name")
			if optional, _ := asMap(v)["optional"].(bool); optional {
				continue
			}
			if ix.get("", kind, o.namespace, name) == nil {
				missing(CheckHelmValuesFrom, []string{"spec", "valuesFrom", fmt.Sprint(i), "name"}, "valuesFrom %s %s/%s does not exist (set optional: true, or silence %s if it is created outside git)", kind, o.namespace, name, CheckHelmValuesFrom)
			}
		}
		for i, d := range asSlice(spec["dependsOn"]) {
			name, ns := stringAt(d, "name"), or(stringAt(d, "namespace"), o.namespace)
			if ix.get("helm.toolkit.fluxcd.io", "HelmRelease", ns, name) == nil {
				missing(CheckDependsOn, []string{"spec", "dependsOn", fmt.Sprint(i), "name"}, "dependsOn: HelmRelease %s/%s does not exist", ns, name)
			}
		}
	case o.kind == "Certificate" && o.group() == "cert-manager.io":
		ref := asMap(spec["issuerRef"])
		group, kind, name := or(stringAt(ref, "group"), "cert-manager.io"), or(stringAt(ref, "kind"), "Issuer"), stringAt(ref, "name")
		if group != "cert-manager.io" {
			return // an external issuer: korthops cannot know its objects
		}
		ns := o.namespace
		if kind == "ClusterIssuer" {
			ns = ""
		}
		if ix.get("cert-manager.io", kind, ns, name) == nil {
			missing(CheckIssuerRef, []string{"spec", "issuerRef", "name"}, "issuerRef: %s %q does not exist", kind, name)
		}
	case o.kind == "VirtualService" && o.group() == "networking.istio.io":
		for i, g := range asSlice(spec["gateways"]) {
			ref, _ := g.(string)
			if ref == "mesh" || ref == "" {
				continue
			}
			ns, name, ok := strings.Cut(ref, "/")
			if !ok {
				ns, name = o.namespace, ref
			}
			if ix.get("networking.istio.io", "Gateway", ns, name) == nil {
				missing(CheckIstioGateway, []string{"spec", "gateways", fmt.Sprint(i)}, "gateway %s/%s does not exist", ns, name)
			}
		}
	case o.kind == "Gateway" && o.group() == "networking.istio.io":
		for i, s := range asSlice(spec["servers"]) {
			cred := stringAt(asMap(s)["tls"], "credentialName")
			if cred != "" && !hasTLSSecret(c, o.namespace, cred) {
				missing(CheckIstioCredential, []string{"spec", "servers", fmt.Sprint(i), "tls", "credentialName"}, "credentialName %q matches no Certificate secretName or Secret in namespace %s", cred, o.namespace)
			}
		}
	case (o.kind == "IngressRoute" || o.kind == "IngressRouteTCP") && o.group() == "traefik.io":
		secret := stringAt(spec["tls"], "secretName")
		if secret != "" && !hasTLSSecret(c, o.namespace, secret) {
			missing(CheckTraefikTLSSecret, []string{"spec", "tls", "secretName"}, "secretName %q matches no Certificate secretName or Secret in namespace %s", secret, o.namespace)
		}
	}
}

// hasTLSSecret reports whether a TLS secret will exist: a Secret, or a Certificate that writes it.
func hasTLSSecret(c *cluster, namespace, name string) bool {
	for _, o := range c.objects {
		if o.namespace != namespace {
			continue
		}
		if o.kind == "Secret" && o.apiVersion == "v1" && o.name == name {
			return true
		}
		if o.kind == "Certificate" && o.group() == "cert-manager.io" && stringAt(o.u["spec"], "secretName") == name {
			return true
		}
	}
	return false
}

// checkDependsOnCycles finds cycles among the cluster's Flux Kustomizations.
func (r *run) checkDependsOnCycles(c *cluster) {
	deps := map[string][]string{}
	byKey := map[string]*object{}
	for _, ks := range c.kustomizations {
		k := ks.namespace + "/" + ks.name
		byKey[k] = ks
		for _, d := range asSlice(asMap(ks.u["spec"])["dependsOn"]) {
			deps[k] = append(deps[k], or(stringAt(d, "namespace"), ks.namespace)+"/"+stringAt(d, "name"))
		}
	}
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	reported := map[string]bool{}
	var visit func(k string, stack []string)
	visit = func(k string, stack []string) {
		switch state[k] {
		case done:
			return
		case visiting:
			cycle := append(stack[slices.Index(stack, k):], k)
			if ks := byKey[k]; ks != nil && !reported[k] {
				reported[k] = true
				r.add(ks.finding(CheckDependsOnCycle, []string{"spec", "dependsOn"}, "dependsOn cycle: "+strings.Join(cycle, " -> ")))
			}
			return
		}
		state[k] = visiting
		for _, d := range deps[k] {
			visit(d, append(stack, k))
		}
		state[k] = done
	}
	for _, ks := range c.kustomizations {
		visit(ks.namespace+"/"+ks.name, nil)
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
