package main

import "github.com/korthops/korthops/validate"

func kubernetesSchemaVersion() string { return validate.DefaultKubernetesVersion() }
