// Package kube is rdbak's adapter to Kubernetes (client-go): it finds the
// Redis pod a target names, reaches Redis in it (port-forward from outside
// the cluster, the pod IP from inside), reads Secrets, streams files out of
// the pod through pods/exec, and checks rdbak's permissions first.
package kube

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Flags are the kubectl flags users expect (--kubeconfig, --context,
// -n/--namespace, ...), from k8s.io/cli-runtime.
type Flags struct {
	cf *genericclioptions.ConfigFlags
}

// NewFlags returns the flags. Basic-auth --username/--password are left
// out: next to a Redis tool they would read as Redis credentials.
func NewFlags() *Flags {
	cf := genericclioptions.NewConfigFlags(true)
	cf.Username, cf.Password = nil, nil
	return &Flags{cf: cf}
}

// AddFlags registers the flags on fs.
func (f *Flags) AddFlags(fs *pflag.FlagSet) { f.cf.AddFlags(fs) }

// Namespace returns -n, else the kubeconfig context's namespace, else the
// pod's own namespace in-cluster, else "default".
func (f *Flags) Namespace() (string, error) {
	ns, _, err := f.cf.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("read the namespace from the kubeconfig: %w", err)
	}
	return ns, nil
}

// Client is a connection to one cluster.
type Client struct {
	Clientset kubernetes.Interface
	Config    *rest.Config
	// InCluster is true when rdbak runs in a pod and uses its
	// ServiceAccount; it then reaches Redis at the pod IP.
	InCluster bool
}

// Client connects with the kubeconfig (KUBECONFIG, --kubeconfig,
// --context), or with the pod's ServiceAccount when there is none.
func (f *Flags) Client() (*Client, error) {
	cfg, err := f.cf.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("load Kubernetes client config (set --kubeconfig or KUBECONFIG, or run in a pod with a ServiceAccount): %w", err)
	}
	cfg.UserAgent = "rdbak"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create Kubernetes client: %w", err)
	}
	return &Client{Clientset: cs, Config: cfg, InCluster: inCluster(f.cf)}, nil
}

// inCluster reports whether the config came from the pod's ServiceAccount:
// rdbak runs in a pod and no kubeconfig was given.
func inCluster(cf *genericclioptions.ConfigFlags) bool {
	if os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return false
	}
	if cf.KubeConfig != nil && *cf.KubeConfig != "" || os.Getenv("KUBECONFIG") != "" {
		return false
	}
	_, err := rest.InClusterConfig()
	return err == nil
}
