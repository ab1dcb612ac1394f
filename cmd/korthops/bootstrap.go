package main

import (
	"fmt"
	"os"
	"time"

	"github.com/korthops/korthops/bootstrap"
	"github.com/spf13/cobra"
)

type bootstrapFlags struct {
	cluster, url, branch                   string
	username, tokenEnv                     string
	privateKeyFile, knownHostsFile, caFile string
	allowInsecureHTTP                      bool
	kubeconfig, kubeContext                string
	timeout                                time.Duration
	wait, dryRun, skipValidation           bool
	registry, imagePullSecret              string
}

func newBootstrapCmd(c *cli) *cobra.Command {
	var f bootstrapFlags
	cmd := &cobra.Command{
		Use:   "bootstrap --cluster NAME",
		Short: "Install Flux on a cluster and connect it to this repository",
		Long: "bootstrap validates the cluster's content, checks the cluster, commits Flux " + bootstrap.FluxVersion() + "'s install and\n" +
			"sync manifests to clusters/NAME/flux-system with go-git, applies them, creates the git credentials and\n" +
			"application secrets that do not exist yet, and waits until Flux reconciles. Running it again is safe.",
		Example: "  korthops bootstrap --cluster onprem --private-key-file ~/.ssh/flux --known-hosts-file known_hosts\n" +
			"  GIT_TOKEN=... korthops bootstrap --cluster aws --url https://git.example.org/imaging/gitops.git --username flux --token-env GIT_TOKEN",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var token string
			if f.tokenEnv != "" {
				token = os.Getenv(f.tokenEnv)
				if token == "" {
					return &exitError{code: 2, err: fmt.Errorf("--token-env %s: the variable is empty or not set", f.tokenEnv)}
				}
			}
			if f.privateKeyFile == "" && f.knownHostsFile != "" {
				// With the ssh-agent, go-git reads known hosts from the file this variable names.
				os.Setenv("SSH_KNOWN_HOSTS", f.knownHostsFile)
			}
			return bootstrap.Run(cmd.Context(), bootstrap.Options{
				RepoDir: c.global.repo, Cluster: f.cluster, URL: f.url, Branch: f.branch,
				Username: f.username, Password: token, PrivateKeyFile: f.privateKeyFile, KnownHostsFile: f.knownHostsFile,
				CAFile: f.caFile, AllowInsecureHTTP: f.allowInsecureHTTP,
				KubeConfig: f.kubeconfig, KubeContext: f.kubeContext,
				Timeout: f.timeout, Wait: f.wait, DryRun: f.dryRun, SkipValidation: f.skipValidation,
				Registry: f.registry, ImagePullSecret: f.imagePullSecret,
				Out: c.stdout,
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.cluster, "cluster", "", "cluster to bootstrap (a folder under clusters/)")
	fl.StringVar(&f.url, "url", "", "git URL Flux pulls from (default: the repository's origin remote)")
	fl.StringVar(&f.branch, "branch", "", "branch (default: the current branch, else main)")
	fl.StringVar(&f.username, "username", "git", "user name for HTTPS")
	fl.StringVar(&f.tokenEnv, "token-env", "", "name of the environment variable that holds the HTTPS token (never pass a token as a flag)")
	fl.StringVar(&f.privateKeyFile, "private-key-file", "", "SSH private key (default: ssh-agent)")
	fl.StringVar(&f.knownHostsFile, "known-hosts-file", "", "known_hosts for the SSH server")
	fl.StringVar(&f.caFile, "ca-file", "", "CA bundle of the HTTPS git server")
	fl.BoolVar(&f.allowInsecureHTTP, "allow-insecure-http", false, "allow a plain http:// git URL (credentials travel in the clear)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, then ~/.kube/config)")
	fl.StringVar(&f.kubeContext, "context", "", "kubeconfig context")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "how long to wait for each step")
	fl.BoolVar(&f.wait, "wait", true, "wait until Flux reports the flux-system source and Kustomization Ready")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would be committed and applied, change nothing")
	fl.BoolVar(&f.skipValidation, "skip-validation", false, "bootstrap even if the cluster's content does not validate")
	fl.StringVar(&f.registry, "registry", "", "registry mirror for the Flux controller images, e.g. registry.example.org/fluxcd")
	fl.StringVar(&f.imagePullSecret, "image-pull-secret", "", "pull secret (in flux-system) for the Flux controller images")
	_ = cmd.MarkFlagRequired("cluster")
	return cmd
}
