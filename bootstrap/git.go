package bootstrap

import (
	"context"
	"fmt"
	"strings"

	"github.com/fluxcd/flux2/v2/pkg/manifestgen/sourcesecret"
	corev1 "k8s.io/api/core/v1"
	"net/url"
	"os"

	"github.com/fluxcd/flux2/v2/pkg/bootstrap"
	"github.com/fluxcd/pkg/git"
	"github.com/fluxcd/pkg/git/gogit"
	runclient "github.com/fluxcd/pkg/runtime/client"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// bootstrapper is flux2's plain-git bootstrapper with a go-git client cloning into a temp dir.
func (o *Options) bootstrapper(cl *clusterClient, log *logger) (*bootstrap.PlainGitBootstrapper, func(), error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, nil, err
	}
	auth, err := o.gitAuth(u)
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "korthops-bootstrap-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	clientOpts := []gogit.ClientOption{gogit.WithDiskStorage()}
	if u.Scheme == "ssh" && o.PrivateKeyFile == "" {
		// No key: go-git asks the ssh-agent (SSH_AUTH_SOCK) and checks ~/.ssh/known_hosts, or the
		// file SSH_KNOWN_HOSTS names (the CLI sets it from --known-hosts-file).
		clientOpts = append(clientOpts, gogit.WithFallbackToDefaultKnownHosts())
	}
	if u.Scheme == "http" {
		clientOpts = append(clientOpts, gogit.WithInsecureCredentialsOverHTTP())
	}
	gitClient, err := gogit.NewClient(dir, auth, clientOpts...)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("git client: %w", err)
	}
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Context = &cl.kubeconfig, &cl.context
	b, err := bootstrap.NewPlainGitProvider(gitClient, cl.kube,
		bootstrap.WithRepositoryURL(redactURL(o.URL)),
		bootstrap.WithBranch(o.Branch),
		bootstrap.WithSignature("korthops", "korthops@users.noreply.localhost"),
		bootstrap.WithCommitMessageAppendix("Bootstrapped by korthops for cluster "+o.Cluster+"."),
		bootstrap.WithKubeconfig(flags, &runclient.Options{}),
		bootstrap.WithLogger(log),
		bootstrap.WithPostGenerateSecretFunc(func(_ context.Context, secret corev1.Secret, _ sourcesecret.Options) error {
			if pub := secret.StringData[sourcesecret.PublicKeySecretKey]; pub != "" && o.PrivateKeyFile == "" {
				log.Successf("Flux's deploy key, to add to the git server with read access: %s", strings.TrimSpace(pub))
			}
			return nil
		}),
	)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return b, cleanup, nil
}

func (o *Options) gitAuth(u *url.URL) (*git.AuthOptions, error) {
	switch u.Scheme {
	case "http", "https":
		auth := &git.AuthOptions{Transport: git.HTTPS, Username: o.Username, Password: o.Password}
		if u.Scheme == "http" {
			auth.Transport = git.HTTP
		}
		if o.CAFile != "" {
			ca, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("--ca-file: %w", err)
			}
			auth.CAFile = ca
		}
		return auth, nil
	case "ssh":
		auth := &git.AuthOptions{Transport: git.SSH, Username: u.User.Username(), Password: o.Password}
		if auth.Username == "" {
			auth.Username = "git"
		}
		if o.PrivateKeyFile != "" {
			pk, err := os.ReadFile(o.PrivateKeyFile)
			if err != nil {
				return nil, fmt.Errorf("--private-key-file: %w", err)
			}
			auth.Identity = pk
		}
		if o.KnownHostsFile != "" && o.PrivateKeyFile != "" {
			kh, err := os.ReadFile(o.KnownHostsFile)
			if err != nil {
				return nil, fmt.Errorf("--known-hosts-file: %w", err)
			}
			auth.KnownHosts = kh
		}
		return auth, nil
	}
	return nil, fmt.Errorf("unsupported git URL scheme %q", u.Scheme)
}
