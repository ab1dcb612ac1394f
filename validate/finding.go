package validate

import (
	"fmt"
	"strconv"
	"strings"
)

// Check IDs are stable: users look them up and silence them with --skip-check ID or the
// korthops.dev/ignore annotation ("ID,ID") on a resource.
const (
	CheckYAML             = "yaml-syntax"
	CheckBuild            = "kustomize-build"
	CheckSchema           = "schema"
	CheckSchemaMissing    = "schema-missing"
	CheckUnresolvedVar    = "postbuild-unresolved-variable"
	CheckSubstituteFrom   = "postbuild-substitute-from"
	CheckFluxPath         = "flux-path"
	CheckFluxSource       = "flux-source"
	CheckExternalSource   = "flux-external-source"
	CheckArtifactCopy     = "flux-artifact-copy"
	CheckDependsOn        = "flux-depends-on"
	CheckDependsOnCycle   = "flux-depends-on-cycle"
	CheckHelmChartSource  = "helm-chart-source"
	CheckHelmValuesFrom   = "helm-values-from"
	CheckIssuerRef        = "certificate-issuer"
	CheckIstioGateway     = "istio-gateway-ref"
	CheckIstioCredential  = "istio-gateway-credential"
	CheckTraefikTLSSecret = "traefik-tls-secret"
	CheckDuplicate        = "duplicate-resource"
	CheckNamespace        = "namespace-missing"
)

// IgnoreAnnotation lists check IDs to silence for the annotated resource.
const IgnoreAnnotation = "korthops.dev/ignore"

// Severity of a finding: errors fail validation, warnings do not.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Finding is one problem, traced back to the file and line it comes from.
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	File     string   `json:"file,omitempty"`
	Line     int      `json:"line,omitempty"`
	// Resource is kind/namespace/name (kind/name for cluster-scoped objects).
	Resource string `json:"resource,omitempty"`
	// Field is a JSON path into the resource, e.g. .spec.template.spec.containers[0].image.
	Field   string `json:"field,omitempty"`
	Cluster string `json:"cluster,omitempty"`
	// Kustomization is the Flux Kustomization (namespace/name) through which the resource was reached.
	Kustomization string `json:"kustomization,omitempty"`
	Message       string `json:"message"`
}

// Location is "file:line" (or "file").
func (f Finding) Location() string {
	if f.Line > 0 {
		return f.File + ":" + strconv.Itoa(f.Line)
	}
	return f.File
}

// jsonPath renders path segments as .spec.containers[0].image.
func jsonPath(segments []string) string {
	var b strings.Builder
	for _, s := range segments {
		if _, err := strconv.Atoi(s); err == nil {
			fmt.Fprintf(&b, "[%s]", s)
		} else if strings.ContainsAny(s, ".[]/ ") {
			fmt.Fprintf(&b, "[%q]", s)
		} else {
			b.WriteString("." + s)
		}
	}
	return b.String()
}
