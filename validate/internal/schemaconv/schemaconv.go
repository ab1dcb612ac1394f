// Package schemaconv converts Kubernetes OpenAPI definitions and CustomResourceDefinitions into
// kubeconform's standalone strict JSON Schema files. The catalog generator and the validator (for
// CRDs found in a repository) share it, so both produce the same schemas.
package schemaconv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// Swagger turns a Kubernetes OpenAPI v2 spec into one standalone strict schema per kind
// and version, named as kubeconform expects ({kind}-{group}-{version}.json). It also returns the
// ObjectMeta schema, which CRD schemas borrow for their metadata.
func Swagger(spec []byte) (map[string][]byte, map[string]any, error) {
	var doc struct {
		Definitions map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		return nil, nil, err
	}
	out := map[string][]byte{}
	for _, name := range sortedKeys(doc.Definitions) {
		def := doc.Definitions[name].(map[string]any)
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		if len(gvks) == 0 {
			continue
		}
		schema := inline(def, doc.Definitions, nil).(map[string]any)
		strict(schema)
		for _, g := range gvks {
			gvk := g.(map[string]any)
			group, version, kind := gvk["group"].(string), gvk["version"].(string), gvk["kind"].(string)
			apiVersion := version
			if group != "" {
				apiVersion = group + "/" + version
			}
			data, err := json.Marshal(withGVK(schema, apiVersion, kind))
			if err != nil {
				return nil, nil, err
			}
			out[kubeconformName(kind, apiVersion)] = data
		}
	}
	meta := inline(doc.Definitions["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"], doc.Definitions, nil).(map[string]any)
	strict(meta)
	return out, meta, nil
}

// kubeconformName mirrors kubeconform's {{ .ResourceKind }}{{ .KindSuffix }} naming.
func kubeconformName(kind, apiVersion string) string {
	groupParts := strings.Split(apiVersion, "/")
	suffix := "-" + strings.ToLower(strings.Split(groupParts[0], ".")[0])
	if len(groupParts) > 1 {
		suffix += "-" + strings.ToLower(groupParts[1])
	}
	return strings.ToLower(kind) + suffix + ".json"
}

// withGVK pins apiVersion and kind, so a schema only accepts the kind it is named for.
func withGVK(schema map[string]any, apiVersion, kind string) map[string]any {
	s := shallowCopy(schema)
	props := shallowCopy(asMap(s["properties"]))
	props["apiVersion"] = map[string]any{"type": "string", "enum": []any{apiVersion}}
	props["kind"] = map[string]any{"type": "string", "enum": []any{kind}}
	s["properties"] = props
	return s
}

// inline replaces every $ref by the definition it points at. A definition that refers to itself
// (JSONSchemaProps) is cut at the second level and left open.
func inline(node any, defs map[string]any, stack []string) any {
	switch n := node.(type) {
	case map[string]any:
		if ref, ok := n["$ref"].(string); ok {
			name := strings.TrimPrefix(ref, "#/definitions/")
			if slices.Contains(stack, name) {
				return map[string]any{}
			}
			resolved := inline(defs[name], defs, append(stack, name)).(map[string]any)
			out := shallowCopy(resolved)
			for k, v := range n {
				if k != "$ref" {
					out[k] = inline(v, defs, stack)
				}
			}
			return out
		}
		out := map[string]any{}
		for k, v := range n {
			if k == "x-kubernetes-group-version-kind" {
				continue
			}
			out[k] = inline(v, defs, stack)
		}
		// IntOrString and Quantity are strings in the spec but numbers are valid too.
		if n["format"] == "int-or-string" {
			return intOrString(out["description"])
		}
		return out
	case []any:
		out := make([]any, len(n))
		for i, v := range n {
			out[i] = inline(v, defs, stack)
		}
		return out
	}
	return node
}

func intOrString(description any) map[string]any {
	s := map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
	if description != nil {
		s["description"] = description
	}
	return s
}

// strict closes every object schema that lists its properties, unless the schema keeps unknown
// fields on purpose, and lets optional fields be null as the API server does.
func strict(node any) {
	switch n := node.(type) {
	case map[string]any:
		for _, k := range []string{"properties", "patternProperties", "definitions"} {
			if props, ok := n[k].(map[string]any); ok {
				required := map[string]bool{}
				for _, r := range asSlice(n["required"]) {
					required[fmt.Sprint(r)] = true
				}
				for name, p := range props {
					strict(p)
					if pm, ok := p.(map[string]any); ok && !required[name] && k == "properties" {
						nullable(pm)
					}
				}
			}
		}
		for k, v := range n {
			if k != "properties" && k != "patternProperties" && k != "definitions" {
				strict(v)
			}
		}
		if _, ok := n["properties"]; ok && n["additionalProperties"] == nil && n["x-kubernetes-preserve-unknown-fields"] != true {
			n["additionalProperties"] = false
		}
	case []any:
		for _, v := range n {
			strict(v)
		}
	}
}

func nullable(s map[string]any) {
	if t, ok := s["type"].(string); ok {
		s["type"] = []any{t, "null"}
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

func shallowCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// CRDs converts every CustomResourceDefinition in a multi-document YAML file to one strict
// schema per served version, named {group}/{kind}_{version}.json (the CRDs-catalog layout that
// kubeconform documents). objectMeta, when not nil, replaces the open metadata of CRD schemas.
func CRDs(data []byte, objectMeta map[string]any) (map[string][]byte, error) {
	out := map[string][]byte{}
	for i, doc := range bytes.Split(data, []byte("\n---")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(doc, &crd); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			raw, err := json.Marshal(v.Schema.OpenAPIV3Schema)
			if err != nil {
				return nil, err
			}
			var schema map[string]any
			if err := json.Unmarshal(raw, &schema); err != nil {
				return nil, err
			}
			schema = crdSchema(schema, objectMeta)
			apiVersion := crd.Spec.Group + "/" + v.Name
			b, err := json.Marshal(withGVK(schema, apiVersion, crd.Spec.Names.Kind))
			if err != nil {
				return nil, err
			}
			out[path.Join(crd.Spec.Group, strings.ToLower(crd.Spec.Names.Kind)+"_"+v.Name+".json")] = b
		}
	}
	return out, nil
}

func crdSchema(schema, objectMeta map[string]any) map[string]any {
	convertStructural(schema)
	props := asMap(schema["properties"])
	if props == nil {
		props = map[string]any{}
	}
	// Some CRDs (Istio's) leave the root fields out; strict mode would reject every object.
	if objectMeta != nil {
		props["metadata"] = objectMeta
	} else if props["metadata"] == nil {
		props["metadata"] = map[string]any{"type": "object"}
	}
	schema["properties"] = props
	if schema["type"] == nil {
		schema["type"] = "object"
	}
	strict(schema)
	return schema
}

// convertStructural rewrites the Kubernetes extensions of structural schemas into plain JSON Schema.
func convertStructural(node any) {
	switch n := node.(type) {
	case map[string]any:
		for _, v := range n {
			convertStructural(v)
		}
		if n["x-kubernetes-int-or-string"] == true {
			delete(n, "type")
			delete(n, "x-kubernetes-int-or-string")
			n["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
		}
		if n["nullable"] == true {
			nullable(n)
			delete(n, "nullable")
		}
	case []any:
		for _, v := range n {
			convertStructural(v)
		}
	}
}

// ObjectMetaFile is the catalog entry holding the ObjectMeta schema that CRD schemas borrow.
const ObjectMetaFile = "objectmeta.json"
