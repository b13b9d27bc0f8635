package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
)

// kubeFlags are the ad hoc flags that name a Redis in Kubernetes.
type kubeFlags struct {
	flags          *kube.Flags
	pod            string
	statefulSet    string
	deployment     string
	selector       string
	helmRelease    string
	container      string
	prefer         string
	passwordSecret string
	access         string
	allowSPDY      bool
	tls            bool
	tlsCASecret    string
	tlsServerName  string
	tlsInsecure    bool
	redisUser      string
}

// add registers the flags on cmd; verb says what cmd does to the Redis
// they name ("back up", "restore into"). The kubeconfig flags are listed
// apart in --help, as kubectl's global flags are.
func (k *kubeFlags) add(cmd *cobra.Command, verb string) {
	k.flags = addKubectlFlags(cmd)
	f := pflag.NewFlagSet("kubernetes", pflag.ContinueOnError)
	f.StringVar(&k.pod, "pod", "", verb+" the Redis in this pod: [namespace/]name")
	f.StringVar(&k.statefulSet, "statefulset", "", verb+" the Redis of this StatefulSet: [namespace/]name")
	f.StringVar(&k.deployment, "deployment", "", verb+" the Redis of this Deployment: [namespace/]name")
	f.StringVar(&k.selector, "selector", "", verb+" the Redis pod matching this label selector (with -n)")
	f.StringVar(&k.helmRelease, "helm-release", "", verb+" the master of this Bitnami-style Helm release (with -n)")
	f.StringVar(&k.container, "container", "", "the container that runs redis (default: the one exposing port 6379)")
	f.StringVar(&k.prefer, "prefer", "", "in a replication group, "+verb+" the master (default) or a replica")
	f.StringVar(&k.passwordSecret, "password-secret", "", "read the Redis password from this Secret in the target's namespace: name/key")
	f.StringVar(&k.access, "access", "auto", "how to reach Redis in the pod: auto, port-forward or pod-ip")
	f.BoolVar(&k.allowSPDY, "allow-spdy", false, "let exec and port-forward fall back to SPDY when WebSocket upgrades fail")
	f.StringVar(&k.redisUser, "redis-user", "", "Redis ACL user (default: the default user)")
	f.BoolVar(&k.tls, "redis-tls", false, "Redis in the pod listens with TLS")
	f.StringVar(&k.tlsCASecret, "redis-tls-ca-secret", "", "with --redis-tls: the Secret key holding the CA certificate, name/key (default: system roots)")
	f.StringVar(&k.tlsServerName, "redis-tls-server-name", "", "with --redis-tls: a name in Redis's certificate, to verify it against")
	f.BoolVar(&k.tlsInsecure, "redis-tls-insecure-skip-verify", false, "with --redis-tls: do not verify Redis's certificate (tests only)")
	f.VisitAll(func(fl *pflag.Flag) { markGroup(fl, groupKubernetes) })
	cmd.Flags().AddFlagSet(f)
}

// addKubectlFlags registers only the kubeconfig flags on cmd, for a
// command that reaches Kubernetes for something other than a Redis (verify
// reading an identitySecret).
func addKubectlFlags(cmd *cobra.Command) *kube.Flags {
	kf := kube.NewFlags()
	kfs := pflag.NewFlagSet("kubectl", pflag.ContinueOnError)
	kf.AddFlags(kfs)
	kfs.VisitAll(func(f *pflag.Flag) { markGroup(f, groupKubectl) })
	cmd.Flags().AddFlagSet(kfs)
	return kf
}

// set reports whether any flag names a Kubernetes target.
func (k *kubeFlags) set() bool {
	return k.pod != "" || k.statefulSet != "" || k.deployment != "" || k.selector != "" || k.helmRelease != ""
}

// target builds the Kubernetes part of an ad hoc target from the flags.
func (k *kubeFlags) target() (*config.KubeTarget, error) {
	ns, err := k.flags.Namespace()
	if err != nil {
		return nil, err
	}
	kt := &config.KubeTarget{Namespace: ns, Selector: k.selector, HelmRelease: k.helmRelease,
		Container: k.container, Prefer: k.prefer, Access: k.access, AllowSPDY: k.allowSPDY}
	split := func(flag, v string, dst *string) error {
		if v == "" {
			return nil
		}
		if i := strings.IndexByte(v, '/'); i >= 0 {
			if kt.Namespace != ns && kt.Namespace != v[:i] {
				return usagef("--%s %s: namespace differs from another flag's", flag, v)
			}
			kt.Namespace, v = v[:i], v[i+1:]
		}
		if v == "" {
			return usagef("--%s: give [namespace/]name", flag)
		}
		*dst = v
		return nil
	}
	for _, f := range []struct {
		name, val string
		dst       *string
	}{{"pod", k.pod, &kt.Pod}, {"statefulset", k.statefulSet, &kt.StatefulSet}, {"deployment", k.deployment, &kt.Deployment}} {
		if err := split(f.name, f.val, f.dst); err != nil {
			return nil, err
		}
	}
	if k.passwordSecret != "" {
		name, key, ok := strings.Cut(k.passwordSecret, "/")
		if !ok || name == "" || key == "" {
			return nil, usagef("--password-secret %q: give name/key, e.g. redis/redis-password", k.passwordSecret)
		}
		kt.PasswordSecret = &config.SecretRef{Name: name, Key: key}
	}
	if k.tls || k.tlsCASecret != "" || k.tlsServerName != "" || k.tlsInsecure {
		kt.TLS = &config.KubeTLS{ServerName: k.tlsServerName, InsecureSkipVerify: k.tlsInsecure}
		if k.tlsCASecret != "" {
			name, key, ok := strings.Cut(k.tlsCASecret, "/")
			if !ok || name == "" || key == "" {
				return nil, usagef("--redis-tls-ca-secret %q: give name/key, e.g. redis-tls/ca.crt", k.tlsCASecret)
			}
			kt.TLS.CASecret = &config.SecretRef{Name: name, Key: key}
		}
		if kt.TLS.ServerName == "" && !kt.TLS.InsecureSkipVerify {
			return nil, usagef("--redis-tls needs --redis-tls-server-name: a name in Redis's certificate (rdbak connects through a port-forward or the pod IP, which it does not name)")
		}
	}
	spec := app.SpecOf(kt)
	if err := spec.Validate(); err != nil {
		return nil, usagef("kubernetes target: %w", err)
	}
	switch kt.Prefer {
	case "", "master", "replica":
	default:
		return nil, usagef("--prefer %q: use master or replica", kt.Prefer)
	}
	switch kt.Access {
	case "", "auto", "port-forward", "pod-ip":
	default:
		return nil, usagef("--access %q: use auto, port-forward or pod-ip", kt.Access)
	}
	return kt, nil
}
