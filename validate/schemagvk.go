package validate

import (
	"encoding/json"
	"fmt"
)

// schemaGVK reads the apiVersion and kind a catalog schema is pinned to.
func schemaGVK(data []byte) (apiVersion, kind string, err error) {
	var s struct {
		Properties struct {
			APIVersion struct {
				Enum []string `json:"enum"`
			} `json:"apiVersion"`
			Kind struct {
				Enum []string `json:"enum"`
			} `json:"kind"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return "", "", err
	}
	if len(s.Properties.APIVersion.Enum) != 1 || len(s.Properties.Kind.Enum) != 1 {
		return "", "", fmt.Errorf("schema is not pinned to one apiVersion and kind")
	}
	return s.Properties.APIVersion.Enum[0], s.Properties.Kind.Enum[0], nil
}
