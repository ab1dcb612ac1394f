// Package bootstrap puts Flux on a cluster and connects it to a korthops repository: it validates
// the cluster's content, checks the cluster, commits Flux's install and sync manifests with go-git,
// applies them with server-side apply, creates the credentials and application secrets, and waits
// until Flux reconciles. The Git and cluster steps are flux2's own pkg/bootstrap; korthops adds the
// validation, the pre-flight, the offline install bundle and the application secrets.
package bootstrap

import (
	"context"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/fluxcd/flux2/v2/pkg/manifestgen/install"
	"github.com/fluxcd/flux2/v2/pkg/manifestgen/sourcesecret"
	"github.com/fluxcd/flux2/v2/pkg/manifestgen/sync"
	gogit "github.com/go-git/go-git/v5"
	"github.com/korthops/korthops/layout"
	"github.com/korthops/korthops/validate"
)

// Step is one step of a bootstrap, in order.
type Step int

const (
	StepValidate Step = iota + 1
	StepPreflight
	StepComponents
	StepSecrets
	StepSync
	StepWait
)

// Options configure a bootstrap.
type Options struct {
	// RepoDir is the local clone of the repository; the cluster's content is validated there, and
	// the remote URL and branch default to its origin and current branch.
	RepoDir string
	Cluster string
	URL     string
	Branch  string

	// Git credentials: Username and Password (a token) for HTTPS, or PrivateKeyFile (and
	// KnownHostsFile) for SSH. Password is never printed.
	Username          string
	Password          string
	PrivateKeyFile    string
	KnownHostsFile    string
	CAFile            string
	AllowInsecureHTTP bool

	// KubeConfig and KubeContext follow client-go's loading rules (KUBECONFIG when empty).
	KubeConfig  string
	KubeContext string

	Timeout        time.Duration
	Wait           bool
	DryRun         bool
	SkipValidation bool
	Validate       validate.Opts

	// Registry rewrites the Flux controller images to a mirror; ImagePullSecret wires a pull secret.
	Registry        string
	ImagePullSecret string

	// Out receives one progress line per action.
	Out io.Writer

	// stopAfter ends the run after a step, as a crash would: tests use it to prove re-runs converge.
	stopAfter Step
	// bundle replaces the embedded Flux bundle: tests use it to play a newer korthops.
	bundle fs.FS
}

// errStopped is returned when a test hook stops the run.
var errStopped = errors.New("stopped by test hook")

// Run bootstraps one cluster. It is safe to run again: nothing is committed or applied when the
// repository and the cluster are already up to date, and existing credentials are kept.
func Run(ctx context.Context, o Options) error {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	log := newLogger(o.Out, o.Password)
	repo, err := layout.Open(o.RepoDir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(repo.ClusterDir(o.Cluster)); err != nil {
		return fmt.Errorf("cluster %q: %s does not exist", o.Cluster, repo.Rel(repo.ClusterDir(o.Cluster)))
	}
	if err := o.defaultsFromClone(repo); err != nil {
		return err
	}
	stop := func(s Step) error {
		if o.stopAfter == s {
			return errStopped
		}
		return nil
	}

	log.Actionf("validating cluster %s", o.Cluster)
	if err := o.validate(ctx, log, repo); err != nil {
		return err
	}
	if err := stop(StepValidate); err != nil {
		return err
	}

	log.Actionf("checking the cluster")
	cl, err := newClusterClient(o.KubeConfig, o.KubeContext)
	if err != nil {
		return err
	}
	if err := cl.preflight(ctx, log); err != nil {
		return err
	}
	if err := stop(StepPreflight); err != nil {
		return err
	}

	installOpts, secretOpts, syncOpts, err := o.fluxOptions(repo)
	if err != nil {
		return err
	}
	manifestsBase, err := os.MkdirTemp("", "korthops-flux-bundle-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(manifestsBase)
	if err := writeBundle(o.fluxBundle(), manifestsBase); err != nil {
		return err
	}
	if o.DryRun {
		return dryRun(o.Out, manifestsBase, installOpts, syncOpts)
	}

	b, cleanup, err := o.bootstrapper(cl, log)
	if err != nil {
		return err
	}
	defer func() { cleanup() }()
	// The remote may move between clone and push: start again from a fresh clone, once.
	err = b.ReconcileComponents(ctx, manifestsBase, installOpts, secretOpts)
	if isPushRejected(err) {
		log.Warningf("push rejected, the branch moved: cloning again and retrying once")
		cleanup()
		if b, cleanup, err = o.bootstrapper(cl, log); err != nil {
			return err
		}
		err = b.ReconcileComponents(ctx, manifestsBase, installOpts, secretOpts)
	}
	if err != nil {
		return explainPush(err, o.URL)
	}
	if err := cl.upgradeComponents(ctx, log, manifestsBase, installOpts); err != nil {
		return err
	}
	if err := stop(StepComponents); err != nil {
		return err
	}

	if secretOpts.Keypair != nil && o.KnownHostsFile != "" {
		knownHosts, err := os.ReadFile(o.KnownHostsFile)
		if err != nil {
			return fmt.Errorf("--known-hosts-file: %w", err)
		}
		if err := cl.reconcileSSHSecret(ctx, log, secretOpts, knownHosts); err != nil {
			return err
		}
	} else if err := b.ReconcileSourceSecret(ctx, secretOpts); err != nil {
		return err
	}
	if err := cl.reconcileAppSecrets(ctx, log); err != nil {
		return err
	}
	if err := stop(StepSecrets); err != nil {
		return err
	}

	if err := b.ReconcileSyncConfig(ctx, syncOpts); err != nil {
		return explainPush(err, o.URL)
	}
	if err := stop(StepSync); err != nil {
		return err
	}
	if !o.Wait {
		log.Successf("bootstrap finished; not waiting for Flux (--wait=false)")
		return nil
	}
	if err := b.ReportGitRepoHealth(ctx, syncOpts, 2*time.Second, o.Timeout); err != nil {
		return err
	}
	if err := b.ReportKustomizationHealth(ctx, syncOpts, 2*time.Second, o.Timeout); err != nil {
		return err
	}
	cl.reportKustomizations(ctx, log)
	log.Successf("bootstrap finished")
	return nil
}

func (o *Options) fluxBundle() fs.FS {
	if o.bundle != nil {
		return o.bundle
	}
	return embeddedBundle()
}

// defaultsFromClone reads the remote URL (origin) and branch (the current one) from the local
// clone when they are not given. An SSH remote stays SSH.
func (o *Options) defaultsFromClone(repo *layout.Repo) error {
	if o.URL != "" && o.Branch != "" {
		return nil
	}
	g, err := gogit.PlainOpenWithOptions(repo.Root(), &gogit.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		if o.URL == "" {
			return fmt.Errorf("--url is required: %s is not a git clone (%v)", repo.Root(), err)
		}
		o.Branch = "main"
		return nil
	}
	if o.URL == "" {
		remote, err := g.Remote("origin")
		if err != nil || len(remote.Config().URLs) == 0 {
			return fmt.Errorf("--url is required: the repository has no origin remote")
		}
		o.URL = remote.Config().URLs[0]
	}
	if o.Branch == "" {
		o.Branch = "main"
		if head, err := g.Head(); err == nil && head.Name().IsBranch() {
			o.Branch = head.Name().Short()
		}
	}
	return nil
}

func (o *Options) validate(ctx context.Context, log *logger, repo *layout.Repo) error {
	if o.SkipValidation {
		log.Warningf("validation skipped (--skip-validation): the cluster may receive content korthops did not check")
		return nil
	}
	opts := o.Validate
	opts.Cluster = o.Cluster
	v, err := validate.New(opts)
	if err != nil {
		return err
	}
	rep, err := v.Validate(ctx, repo.Root())
	if err != nil {
		return err
	}
	if !rep.Valid() {
		var b strings.Builder
		_ = rep.Write(&b, validate.FormatText, false)
		return fmt.Errorf("cluster %s does not validate, nothing was changed:\n%s", o.Cluster, b.String())
	}
	log.Successf("cluster %s validates: %d resources through %d Flux Kustomizations", o.Cluster, rep.Resources, rep.Kustomizations)
	return nil
}

// fluxOptions are the options of flux2's generators for this cluster.
func (o *Options) fluxOptions(repo *layout.Repo) (install.Options, sourcesecret.Options, sync.Options, error) {
	target := repo.Rel(repo.ClusterDir(o.Cluster))
	installOpts := install.MakeDefaultOptions()
	installOpts.Version = bundleVersion(o.fluxBundle())
	installOpts.TargetPath = target
	installOpts.Timeout = o.Timeout
	if o.Registry != "" {
		installOpts.Registry = o.Registry
	}
	installOpts.ImagePullSecret = o.ImagePullSecret

	u, err := url.Parse(o.URL)
	if err != nil {
		return installOpts, sourcesecret.Options{}, sync.Options{}, fmt.Errorf("--url %q: %w", redactURL(o.URL), err)
	}
	secretOpts := sourcesecret.Options{
		Name:         "flux-system",
		Namespace:    installOpts.Namespace,
		TargetPath:   target,
		ManifestFile: sourcesecret.MakeDefaultOptions().ManifestFile,
	}
	switch u.Scheme {
	case "https", "http":
		if u.Scheme == "http" && !o.AllowInsecureHTTP {
			return installOpts, secretOpts, sync.Options{}, fmt.Errorf("--url %s: plain http sends credentials in the clear; use https", redactURL(o.URL))
		}
		secretOpts.Username, secretOpts.Password = o.Username, o.Password
		if o.CAFile != "" {
			ca, err := os.ReadFile(o.CAFile)
			if err != nil {
				return installOpts, secretOpts, sync.Options{}, fmt.Errorf("--ca-file: %w", err)
			}
			secretOpts.CACrt = ca
		}
		u.User = nil
	case "ssh":
		if o.PrivateKeyFile != "" {
			kp, err := sourcesecret.LoadKeyPairFromPath(o.PrivateKeyFile, o.Password)
			if err != nil {
				return installOpts, secretOpts, sync.Options{}, fmt.Errorf("--private-key-file: %w", err)
			}
			secretOpts.Keypair = kp
		} else {
			// The agent's key stays on this machine: Flux gets a deploy key of its own, whose
			// public half bootstrap prints for the git server.
			secretOpts.PrivateKeyAlgorithm = sourcesecret.ECDSAPrivateKeyAlgorithm
			secretOpts.ECDSACurve = elliptic.P384()
		}
		secretOpts.SSHHostname = u.Host
	default:
		return installOpts, secretOpts, sync.Options{}, fmt.Errorf("--url %s: Flux accepts https, http and ssh URLs only", redactURL(o.URL))
	}
	syncOpts := sync.Options{
		Interval:     time.Minute,
		Name:         installOpts.Namespace,
		Namespace:    installOpts.Namespace,
		URL:          u.String(),
		Branch:       o.Branch,
		Secret:       secretOpts.Name,
		TargetPath:   target,
		ManifestFile: sync.MakeDefaultOptions().ManifestFile,
	}
	return installOpts, secretOpts, syncOpts, nil
}

// isPushRejected recognises a push refused because the remote branch moved, as go-git and
// git-http-backend report it.
func isPushRejected(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "push") && (strings.Contains(msg, "non-fast-forward") || strings.Contains(msg, "fetch first") ||
		strings.Contains(msg, "rejected") || strings.Contains(msg, "failed to update ref"))
}

// explainPush turns a rejected push and an SSH host key mismatch into actionable messages;
// korthops never force-pushes.
func explainPush(err error, remote string) error {
	if strings.Contains(err.Error(), "knownhosts: key mismatch") || strings.Contains(err.Error(), "knownhosts: key is unknown") {
		return fmt.Errorf("the SSH host key of %s is not the one in --known-hosts-file; nothing was pushed: %w", redactURL(remote), err)
	}
	if isPushRejected(err) {
		return fmt.Errorf("push to %s was rejected because the branch moved, also after a fresh clone; nothing was forced. Run bootstrap again once the branch is quiet: %w", redactURL(remote), err)
	}
	return err
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User(u.User.Username())
	return u.String()
}
