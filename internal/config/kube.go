package config

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
)

// KubeTarget names a Redis that runs in Kubernetes, by exactly one of Pod,
// StatefulSet, Deployment, Selector or HelmRelease.
type KubeTarget struct {
	// Namespace defaults to the kubeconfig context's namespace (in a pod:
	// the pod's own).
	Namespace   string `yaml:"namespace"`
	Pod         string `yaml:"pod"`
	StatefulSet string `yaml:"statefulset"`
	Deployment  string `yaml:"deployment"`
	Selector    string `yaml:"selector"`
	// HelmRelease selects a Bitnami-style release's pods
	// (app.kubernetes.io/instance); Component picks master (default) or
	// replica pods.
	HelmRelease string `yaml:"helmRelease"`
	Component   string `yaml:"component"`
	// Container runs redis; by default the one exposing port 6379.
	Container string `yaml:"container"`
	// Prefer master (default) or replica when the pods form a replication
	// group; a replica is used only while its master link is up and once
	// it has its master's writes.
	Prefer string `yaml:"prefer"`
	// PasswordSecret is a Secret key in the target's namespace holding the
	// Redis password, e.g. the Bitnami chart's redis-password.
	PasswordSecret *SecretRef `yaml:"passwordSecret"`
	// Access is how rdbak reaches Redis: port-forward (outside the
	// cluster), pod-ip (inside it), or auto (default: pod-ip in a pod).
	Access string `yaml:"access"`
	// AllowSPDY lets exec and port-forward fall back to SPDY when the API
	// server or a proxy cannot upgrade to WebSocket.
	AllowSPDY bool `yaml:"allowSPDY"`
	// TLS connects to Redis over TLS (tls-port), verifying its certificate.
	TLS *KubeTLS `yaml:"tls"`
}

// KubeTLS says how to verify Redis's TLS certificate.
type KubeTLS struct {
	// CASecret holds the CA certificate (PEM) that signed Redis's; the
	// system roots are used when it is not set.
	CASecret *SecretRef `yaml:"caSecret"`
	// ServerName is a name in Redis's certificate; rdbak connects through a
	// port-forward or the pod IP, neither of which the certificate names.
	ServerName string `yaml:"serverName"`
	// InsecureSkipVerify turns verification off. Only for tests.
	InsecureSkipVerify bool `yaml:"insecureSkipVerify"`
}

// SecretRef is one key of a Secret.
type SecretRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

func (v *validator) kubernetes(p string, t *Target) {
	k := t.Kubernetes
	p += ".kubernetes"
	n := 0
	for _, s := range []string{k.Pod, k.StatefulSet, k.Deployment, k.Selector, k.HelmRelease} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		v.fail(p, "name the Redis by exactly one of pod, statefulset, deployment, selector or helmRelease", "e.g. kubernetes: {namespace: prod, statefulset: redis-master}")
	}
	if k.Selector != "" {
		if _, err := labels.Parse(k.Selector); err != nil {
			v.fail(p+".selector", "not a label selector: "+err.Error(), "e.g. app=redis,tier=cache")
		}
	}
	switch k.Component {
	case "", "master", "replica":
		if k.Component != "" && k.HelmRelease == "" {
			v.fail(p+".component", "only applies to helmRelease", "remove it, or use a selector")
		}
	default:
		v.fail(p+".component", fmt.Sprintf("unknown component %q", k.Component), "use master or replica")
	}
	switch k.Prefer {
	case "", "master", "replica":
	default:
		v.fail(p+".prefer", fmt.Sprintf("unknown role %q", k.Prefer), "use master or replica")
	}
	switch k.Access {
	case "", "auto", "port-forward", "pod-ip":
	default:
		v.fail(p+".access", fmt.Sprintf("unknown access %q", k.Access), "use auto, port-forward or pod-ip")
	}
	if s := k.PasswordSecret; s != nil && (s.Name == "" || s.Key == "") {
		v.fail(p+".passwordSecret", "needs both name and key", "e.g. passwordSecret: {name: redis, key: redis-password}")
	}
	if tl := k.TLS; tl != nil {
		if tl.CASecret != nil && (tl.CASecret.Name == "" || tl.CASecret.Key == "") {
			v.fail(p+".tls.caSecret", "needs both name and key", "e.g. caSecret: {name: redis-tls, key: ca.crt}")
		}
		if tl.ServerName == "" && !tl.InsecureSkipVerify {
			v.fail(p+".tls.serverName", "missing", "give a name in Redis's certificate, e.g. redis-master.prod.svc.cluster.local")
		}
	}
	if k.PasswordSecret != nil && (t.PasswordFile != "" || t.PasswordEnv != "") {
		v.fail(p+".passwordSecret", "set together with passwordFile or passwordEnv", "keep one way to give the password")
	}
}
