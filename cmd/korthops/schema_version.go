package main

// kubernetesSchemaVersion is replaced by the validate package's catalog version once it lands.
func kubernetesSchemaVersion() string { return "none" }
