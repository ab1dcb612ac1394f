package layout

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Providers and ingresses korthops can scaffold.
const (
	ProviderOnPrem = "onprem"
	ProviderAWS    = "aws"
	ProviderAzure  = "azure"
	ProviderGCP    = "gcp"

	IngressIstio   = "istio"
	IngressTraefik = "traefik"
)

// Keys of the cluster-settings ConfigMap. They double as the Flux postBuild variables of the cluster.
const (
	keyName         = "CLUSTER_NAME"
	keyProvider     = "CLUSTER_PROVIDER"
	keyIngress      = "CLUSTER_INGRESS"
	keyDomain       = "CLUSTER_DOMAIN"
	keyStorageClass = "STORAGE_CLASS"
	keyReplicas     = "ORTHANC_REPLICAS"
)

// Settings are the per-cluster choices. They live in the repository, in the cluster's
// cluster-settings ConfigMap, which Flux also substitutes into every Kustomization of the cluster.
type Settings struct {
	Name     string
	Provider string
	Ingress  string
	Domain   string
	// StorageClass and Replicas default per provider when empty or zero.
	StorageClass string
	Replicas     int
}

// provider holds what differs between infrastructures.
type provider struct {
	storageClass string
	replicas     int
	// lbAnnotations go on the ingress controller's LoadBalancer Service.
	lbAnnotations map[string]string
}

func providers() map[string]provider {
	return map[string]provider{
		ProviderOnPrem: {storageClass: "standard", replicas: 1},
		ProviderAWS: {storageClass: "gp3", replicas: 2, lbAnnotations: map[string]string{
			"service.beta.kubernetes.io/aws-load-balancer-type":   "nlb",
			"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
		}},
		ProviderAzure: {storageClass: "managed-csi", replicas: 2, lbAnnotations: map[string]string{
			"service.beta.kubernetes.io/azure-load-balancer-health-probe-protocol": "tcp",
		}},
		ProviderGCP: {storageClass: "standard-rwo", replicas: 2, lbAnnotations: map[string]string{
			"cloud.google.com/l4-rbs": "enabled",
		}},
	}
}

// Providers lists the supported providers, sorted.
func Providers() []string { return slices.Sorted(maps.Keys(providers())) }

// Ingresses lists the supported ingress controllers.
func Ingresses() []string { return []string{IngressIstio, IngressTraefik} }

// WithDefaults fills the provider defaults into empty fields.
func (s Settings) WithDefaults() Settings {
	p, ok := providers()[s.Provider]
	if !ok {
		return s
	}
	if s.StorageClass == "" {
		s.StorageClass = p.storageClass
	}
	if s.Replicas == 0 {
		s.Replicas = p.replicas
	}
	return s
}

// Validate checks every field and names the first one that is wrong.
func (s Settings) Validate() error {
	if err := validateName(s.Name); err != nil {
		return err
	}
	if _, ok := providers()[s.Provider]; !ok {
		return fmt.Errorf("provider %q: must be one of %s", s.Provider, strings.Join(Providers(), ", "))
	}
	if !slices.Contains(Ingresses(), s.Ingress) {
		return fmt.Errorf("ingress %q: must be one of %s", s.Ingress, strings.Join(Ingresses(), ", "))
	}
	if s.Domain == "" {
		return fmt.Errorf("domain: must not be empty")
	}
	if errs := validation.IsDNS1123Subdomain(s.Domain); len(errs) > 0 || !strings.Contains(s.Domain, ".") {
		if len(errs) == 0 {
			errs = []string{"must have at least two labels, e.g. pacs.example.org"}
		}
		return fmt.Errorf("domain %q is not a valid DNS name: %s", s.Domain, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(s.StorageClass); len(errs) > 0 {
		return fmt.Errorf("storage class %q: %s", s.StorageClass, strings.Join(errs, "; "))
	}
	if s.Replicas < 1 || s.Replicas > 100 {
		return fmt.Errorf("replicas %d: must be between 1 and 100", s.Replicas)
	}
	return nil
}

// validateName accepts DNS-1123 labels only, which also rules out "../x", absolute paths and any
// other name that could escape the clusters folder.
func validateName(name string) error {
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("cluster name %q is not a DNS-1123 label: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

func (s Settings) data() map[string]string {
	return map[string]string{
		keyName:         s.Name,
		keyProvider:     s.Provider,
		keyIngress:      s.Ingress,
		keyDomain:       s.Domain,
		keyStorageClass: s.StorageClass,
		keyReplicas:     strconv.Itoa(s.Replicas),
	}
}

func parseSettings(data []byte) (Settings, error) {
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(data, &cm); err != nil {
		return Settings{}, fmt.Errorf("parse cluster settings: %w", err)
	}
	if cm.Kind != "ConfigMap" {
		return Settings{}, fmt.Errorf("kind is %q, want ConfigMap", cm.Kind)
	}
	get := func(key string) (string, error) {
		v, ok := cm.Data[key]
		if !ok {
			return "", fmt.Errorf("ConfigMap %s: data.%s is missing", cm.Name, key)
		}
		return v, nil
	}
	var s Settings
	var err error
	for key, dst := range map[string]*string{keyName: &s.Name, keyProvider: &s.Provider, keyIngress: &s.Ingress, keyDomain: &s.Domain, keyStorageClass: &s.StorageClass} {
		if *dst, err = get(key); err != nil {
			return Settings{}, err
		}
	}
	replicas, err := get(keyReplicas)
	if err != nil {
		return Settings{}, err
	}
	if s.Replicas, err = strconv.Atoi(replicas); err != nil {
		return Settings{}, fmt.Errorf("ConfigMap %s: data.%s: %q is not a number", cm.Name, keyReplicas, replicas)
	}
	if err := s.Validate(); err != nil {
		return Settings{}, fmt.Errorf("ConfigMap %s: %w", cm.Name, err)
	}
	return s, nil
}
