// Package kube is rdbak's adapter to Kubernetes (client-go): it finds the
// Redis pod a target names, reaches Redis in it (port-forward from outside
// the cluster, the pod IP from inside), reads Secrets, streams files out of
// the pod through pods/exec, and checks rdbak's permissions first.
package kube

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/rdbak/rdbak/internal/kubeapi"
)

// Flags are the kubectl flags users expect (--kubeconfig, --context,
// -n/--namespace, --cluster, --user, --request-timeout, ...), bound with
// client-go's clientcmd as kubectl binds them.
type Flags struct {
	rules     *clientcmd.ClientConfigLoadingRules
	overrides *clientcmd.ConfigOverrides
}

// NewFlags returns the flags. Basic-auth --username/--password are left
// out: next to a Redis tool they would read as Redis credentials.
func NewFlags() *Flags {
	return &Flags{rules: clientcmd.NewDefaultClientConfigLoadingRules(), overrides: &clientcmd.ConfigOverrides{}}
}

// AddFlags registers the flags on fs.
func (f *Flags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.rules.ExplicitPath, clientcmd.RecommendedConfigPathFlag, "", "Path to the kubeconfig file to use for Kubernetes requests")
	names := clientcmd.RecommendedConfigOverrideFlags("")
	names.AuthOverrideFlags.Username = clientcmd.FlagInfo{}
	names.AuthOverrideFlags.Password = clientcmd.FlagInfo{}
	names.ClusterOverrideFlags.APIServer.ShortName = "s"
	clientcmd.BindOverrideFlags(f.overrides, fs, names)
}

func (f *Flags) config() clientcmd.ClientConfig {
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(f.rules, f.overrides)
}

// Namespace returns -n, else the kubeconfig context's namespace, else the
// pod's own namespace in-cluster, else "default".
func (f *Flags) Namespace() (string, error) {
	ns, _, err := f.config().Namespace()
	if err != nil {
		return "", fmt.Errorf("read the namespace from the kubeconfig: %w", err)
	}
	return ns, nil
}

// Client is a connection to one cluster.
type Client struct {
	API    kubeapi.API
	Config *rest.Config
	// InCluster is true when rdbak runs in a pod and uses its
	// ServiceAccount; it then reaches Redis at the pod IP.
	InCluster bool
	// Executor, when set, runs every exec instead of the API server (tests).
	Executor Executor
	// PollInterval, when positive, replaces the interval of every wait
	// (pods gone or Ready, the restore pod running, Redis restarted), so
	// tests do not sleep for real seconds; zero keeps the defaults.
	PollInterval time.Duration
}

// Client connects with the kubeconfig (KUBECONFIG, --kubeconfig,
// --context), or with the pod's ServiceAccount when there is none.
func (f *Flags) Client() (*Client, error) {
	cfg, err := f.config().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load Kubernetes client config (set --kubeconfig or KUBECONFIG, or run in a pod with a ServiceAccount): %w", err)
	}
	cfg.UserAgent = "rdbak"
	api, err := kubeapi.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client: %w", err)
	}
	return &Client{API: api, Config: cfg, InCluster: f.inCluster()}, nil
}

// inCluster reports whether the config came from the pod's ServiceAccount:
// rdbak runs in a pod and no kubeconfig was given.
func (f *Flags) inCluster() bool {
	if os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return false
	}
	if f.rules.ExplicitPath != "" || os.Getenv("KUBECONFIG") != "" {
		return false
	}
	_, err := rest.InClusterConfig()
	return err == nil
}
