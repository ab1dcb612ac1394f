package bootstrap

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fluxcd/flux2/v2/pkg/manifestgen/sourcesecret"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// MinKubernetesMinor is the oldest Kubernetes minor version Flux v2.9 supports.
const MinKubernetesMinor = 33

// clusterClient talks to the target cluster.
type clusterClient struct {
	kubeconfig, context string
	config              *rest.Config
	kube                client.Client
}

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = apiextensionsv1.AddToScheme(s)
	_ = sourcev1.AddToScheme(s)
	_ = kustomizev1.AddToScheme(s)
	return s
}

// restConfig loads a kubeconfig with client-go's rules: the explicit file, else KUBECONFIG, else
// ~/.kube/config; the context override when given.
func restConfig(kubeconfig, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	return cfg, nil
}

func newClusterClient(kubeconfig, context string) (*clusterClient, error) {
	cfg, err := restConfig(kubeconfig, context)
	if err != nil {
		return nil, err
	}
	kube, err := client.New(cfg, client.Options{Scheme: newScheme()})
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &clusterClient{kubeconfig: kubeconfig, context: context, config: cfg, kube: kube}, nil
}

// preflight stops before anything is pushed when the cluster cannot take Flux: unreachable, too
// old, or the credentials may not create CRDs, namespaces and secrets.
func (c *clusterClient) preflight(ctx context.Context, log *logger) error {
	dc, err := discovery.NewDiscoveryClientForConfig(c.config)
	if err != nil {
		return err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return fmt.Errorf("cluster %s is not reachable, nothing was pushed: %w", c.config.Host, err)
	}
	minor, _ := strconv.Atoi(strings.TrimRight(v.Minor, "+"))
	if v.Major != "1" || minor < MinKubernetesMinor {
		return fmt.Errorf("cluster runs Kubernetes %s; Flux %s needs 1.%d or newer, nothing was pushed", v.GitVersion, FluxVersion(), MinKubernetesMinor)
	}
	checks := []authorizationv1.ResourceAttributes{
		{Verb: "create", Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
		{Verb: "create", Resource: "namespaces"},
		{Verb: "create", Resource: "secrets", Namespace: "flux-system"},
		{Verb: "create", Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
	}
	for _, attrs := range checks {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs}}
		if err := c.kube.Create(ctx, review); err != nil {
			return fmt.Errorf("check permission to %s %s: %w", attrs.Verb, attrs.Resource, err)
		}
		if !review.Status.Allowed {
			return fmt.Errorf("the kubeconfig's user may not %s %s (%s), nothing was pushed", attrs.Verb, attrs.Resource, review.Status.Reason)
		}
	}
	log.Successf("cluster %s runs Kubernetes %s and the user may install Flux", c.config.Host, v.GitVersion)
	return nil
}

// appSecret is a Secret the content refers to but git never holds.
type appSecret struct {
	namespace, name string
	// keys get random values; fixed holds keys with known values (user names).
	keys  []string
	fixed map[string]string
}

// appSecrets are the secrets korthops' content needs (see the README's Secrets section).
func appSecrets() []appSecret {
	return []appSecret{
		{namespace: "orthanc", name: "postgresql-auth", keys: []string{"postgres-password", "password"}},
		{namespace: "orthanc", name: "orthanc-credentials", keys: []string{"password"}, fixed: map[string]string{"username": "admin"}},
		{namespace: "monitoring", name: "grafana-admin", keys: []string{"admin-password"}, fixed: map[string]string{"admin-user": "admin"}},
	}
}

// reconcileAppSecrets creates the application secrets with random values, only when they do not
// exist: a secret that exists is never rotated, whatever it holds.
func (c *clusterClient) reconcileAppSecrets(ctx context.Context, log *logger) error {
	for _, s := range appSecrets() {
		var existing corev1.Secret
		err := c.kube.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: s.name}, &existing)
		if err == nil {
			log.Successf("secret %s/%s exists, kept as it is", s.namespace, s.name)
			continue
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("read secret %s/%s: %w", s.namespace, s.name, err)
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.namespace}}
		if err := c.kube.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", s.namespace, err)
		}
		data := map[string][]byte{}
		for k, v := range s.fixed {
			data[k] = []byte(v)
		}
		for _, k := range s.keys {
			v, err := randomPassword()
			if err != nil {
				return err
			}
			data[k] = []byte(v)
		}
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: s.name,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "korthops"}},
			Type: corev1.SecretTypeOpaque,
			Data: data,
		}
		if err := c.kube.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create secret %s/%s: %w", s.namespace, s.name, err)
		}
		log.Successf("created secret %s/%s with random values (%s)", s.namespace, s.name, strings.Join(slices.Sorted(mapsKeys(data)), ", "))
	}
	return nil
}

func mapsKeys(m map[string][]byte) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// reportKustomizations prints the readiness of the cluster's other Flux Kustomizations.
func (c *clusterClient) reportKustomizations(ctx context.Context, log *logger) {
	var list kustomizev1.KustomizationList
	if err := c.kube.List(ctx, &list); err != nil {
		log.Warningf("list Kustomizations: %v", err)
		return
	}
	for _, k := range list.Items {
		if k.Namespace == "flux-system" && k.Name == "flux-system" {
			continue
		}
		cond := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
		switch {
		case cond == nil:
			log.Waitingf("Kustomization %s/%s: not reconciled yet", k.Namespace, k.Name)
		case cond.Status == metav1.ConditionTrue:
			log.Successf("Kustomization %s/%s: ready at %s", k.Namespace, k.Name, k.Status.LastAppliedRevision)
		default:
			log.Waitingf("Kustomization %s/%s: %s", k.Namespace, k.Name, cond.Message)
		}
	}
}

// reconcileSSHSecret writes the git credentials Secret for an SSH remote from the given key pair
// and the verified known_hosts file, instead of the host key flux2 would scan unverified; it only
// writes when the content differs, so a re-run changes nothing.
func (c *clusterClient) reconcileSSHSecret(ctx context.Context, log *logger, opts sourcesecret.Options, knownHosts []byte) error {
	data := map[string][]byte{
		sourcesecret.PrivateKeySecretKey: opts.Keypair.PrivateKey,
		sourcesecret.PublicKeySecretKey:  opts.Keypair.PublicKey,
		sourcesecret.KnownHostsSecretKey: knownHosts,
	}
	if opts.Password != "" {
		data["password"] = []byte(opts.Password)
	}
	var existing corev1.Secret
	err := c.kube.Get(ctx, client.ObjectKey{Namespace: opts.Namespace, Name: opts.Name}, &existing)
	switch {
	case apierrors.IsNotFound(err):
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: opts.Namespace, Name: opts.Name}, Data: data}
		if err := c.kube.Create(ctx, secret); err != nil {
			return fmt.Errorf("create secret %s/%s: %w", opts.Namespace, opts.Name, err)
		}
		log.Successf("created git credentials secret %s/%s (SSH key, known_hosts from --known-hosts-file)", opts.Namespace, opts.Name)
		return nil
	case err != nil:
		return err
	}
	same := len(existing.Data) == len(data)
	for k, v := range data {
		same = same && bytes.Equal(existing.Data[k], v)
	}
	if same {
		log.Successf("git credentials secret %s/%s is up to date", opts.Namespace, opts.Name)
		return nil
	}
	existing.Data = data
	if err := c.kube.Update(ctx, &existing); err != nil {
		return fmt.Errorf("update secret %s/%s: %w", opts.Namespace, opts.Name, err)
	}
	log.Successf("updated git credentials secret %s/%s", opts.Namespace, opts.Name)
	return nil
}
