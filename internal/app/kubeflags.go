package app

import (
	"strings"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
)

// KubeFlags are the ad hoc flags that name a Redis in Kubernetes, with the
// kubectl flags that say how to reach the cluster.
type KubeFlags struct {
	Flags          *kube.Flags
	Pod            string // [namespace/]name
	StatefulSet    string // [namespace/]name
	Deployment     string // [namespace/]name
	Selector       string
	HelmRelease    string
	Container      string
	Prefer         string
	PasswordSecret string // name/key
	Access         string
	AllowSPDY      bool
	TLS            bool
	TLSCASecret    string // name/key
	TLSServerName  string
	TLSInsecure    bool
	RedisUser      string
}

// Set reports whether any flag names a Kubernetes target.
func (k *KubeFlags) Set() bool {
	return k.Pod != "" || k.StatefulSet != "" || k.Deployment != "" || k.Selector != "" || k.HelmRelease != ""
}

// KubeTarget builds the Kubernetes part of an ad hoc target from the
// flags, each error naming the flag at fault.
func (k *KubeFlags) KubeTarget() (*config.KubeTarget, error) {
	ns, err := k.Flags.Namespace()
	if err != nil {
		return nil, err
	}
	kt := &config.KubeTarget{Namespace: ns, Selector: k.Selector, HelmRelease: k.HelmRelease,
		Container: k.Container, Prefer: k.Prefer, Access: k.Access, AllowSPDY: k.AllowSPDY}
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
	}{{"pod", k.Pod, &kt.Pod}, {"statefulset", k.StatefulSet, &kt.StatefulSet}, {"deployment", k.Deployment, &kt.Deployment}} {
		if err := split(f.name, f.val, f.dst); err != nil {
			return nil, err
		}
	}
	if k.PasswordSecret != "" {
		name, key, ok := strings.Cut(k.PasswordSecret, "/")
		if !ok || name == "" || key == "" {
			return nil, usagef("--password-secret %q: give name/key, e.g. redis/redis-password", k.PasswordSecret)
		}
		kt.PasswordSecret = &config.SecretRef{Name: name, Key: key}
	}
	if k.TLS || k.TLSCASecret != "" || k.TLSServerName != "" || k.TLSInsecure {
		kt.TLS = &config.KubeTLS{ServerName: k.TLSServerName, InsecureSkipVerify: k.TLSInsecure}
		if k.TLSCASecret != "" {
			name, key, ok := strings.Cut(k.TLSCASecret, "/")
			if !ok || name == "" || key == "" {
				return nil, usagef("--redis-tls-ca-secret %q: give name/key, e.g. redis-tls/ca.crt", k.TLSCASecret)
			}
			kt.TLS.CASecret = &config.SecretRef{Name: name, Key: key}
		}
		if kt.TLS.ServerName == "" && !kt.TLS.InsecureSkipVerify {
			return nil, usagef("--redis-tls needs --redis-tls-server-name: a name in Redis's certificate (rdbak connects through a port-forward or the pod IP, which it does not name)")
		}
	}
	spec := SpecOf(kt)
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
