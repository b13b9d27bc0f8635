package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/redis"
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

func (k *kubeFlags) add(cmd *cobra.Command) {
	k.flags = kube.NewFlags()
	k.flags.AddFlags(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&k.pod, "pod", "", "back up the Redis in this pod: [namespace/]name")
	f.StringVar(&k.statefulSet, "statefulset", "", "back up the Redis of this StatefulSet: [namespace/]name")
	f.StringVar(&k.deployment, "deployment", "", "back up the Redis of this Deployment: [namespace/]name")
	f.StringVar(&k.selector, "selector", "", "back up the Redis pod matching this label selector (with -n)")
	f.StringVar(&k.helmRelease, "helm-release", "", "back up the master of this Bitnami-style Helm release (with -n)")
	f.StringVar(&k.container, "container", "", "the container that runs redis (default: the one exposing port 6379)")
	f.StringVar(&k.prefer, "prefer", "", "in a replication group, back up the master (default) or a replica")
	f.StringVar(&k.passwordSecret, "password-secret", "", "read the Redis password from this Secret in the target's namespace: name/key")
	f.StringVar(&k.access, "access", "auto", "how to reach Redis in the pod: auto, port-forward or pod-ip")
	f.BoolVar(&k.allowSPDY, "allow-spdy", false, "let exec and port-forward fall back to SPDY when WebSocket upgrades fail")
	f.StringVar(&k.redisUser, "redis-user", "", "Redis ACL user (default: the default user)")
	f.BoolVar(&k.tls, "redis-tls", false, "Redis in the pod listens with TLS")
	f.StringVar(&k.tlsCASecret, "redis-tls-ca-secret", "", "with --redis-tls: the Secret key holding the CA certificate, name/key (default: system roots)")
	f.StringVar(&k.tlsServerName, "redis-tls-server-name", "", "with --redis-tls: a name in Redis's certificate, to verify it against")
	f.BoolVar(&k.tlsInsecure, "redis-tls-insecure-skip-verify", false, "with --redis-tls: do not verify Redis's certificate (tests only)")
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
	spec := specOf(kt)
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

func specOf(kt *config.KubeTarget) kube.Spec {
	return kube.Spec{Namespace: kt.Namespace, Pod: kt.Pod, StatefulSet: kt.StatefulSet, Deployment: kt.Deployment,
		Selector: kt.Selector, HelmRelease: kt.HelmRelease, Component: kt.Component, Container: kt.Container}
}

// connection is a Redis reached for one backup, and what to close after.
type connection struct {
	source backup.Source
	client *redis.Client
	kind   string // replication or file
	close  func()
	// events records the outcome on the Kubernetes workload (nil for
	// targets outside Kubernetes).
	events *kube.Recorder
}

// kubeConn is a Redis reached in a pod.
type kubeConn struct {
	kc        *kube.Client
	kt        config.KubeTarget // with the namespace filled in
	spec      kube.Spec
	access    string // port-forward or pod-ip
	pod       *corev1.Pod
	container string
	addr      string // where Redis answers, from here
	user      string
	password  string
	tls       *tls.Config
	client    *redis.Client
	closers   []func()
}

func (k *kubeConn) close() {
	for i := len(k.closers) - 1; i >= 0; i-- {
		k.closers[i]()
	}
}

// reachKube finds the pod of t, checks the permissions need lists first,
// and reaches Redis in it. The caller closes the connection.
func reachKube(ctx context.Context, flags *kube.Flags, t *config.Target, need func(k *kubeConn) []kube.Permission) (*kubeConn, error) {
	k := &kubeConn{kt: *t.Kubernetes, user: t.User()}
	var err error
	if k.kc, err = flags.Client(); err != nil {
		return nil, err
	}
	if k.kt.Namespace == "" {
		if k.kt.Namespace, err = flags.Namespace(); err != nil {
			return nil, err
		}
	}
	k.spec = specOf(&k.kt)
	k.access = k.kt.Access
	if k.access == "" || k.access == "auto" {
		k.access = "port-forward"
		if k.kc.InCluster {
			k.access = "pod-ip"
		}
	}
	if err := k.kc.Check(ctx, need(k)); err != nil {
		return nil, err
	}
	pods, err := k.kc.Candidates(ctx, k.spec)
	if err != nil {
		return nil, err
	}
	if k.kt.PasswordSecret != nil {
		if k.password, err = k.kc.SecretValue(ctx, k.kt.Namespace, k.kt.PasswordSecret.Name, k.kt.PasswordSecret.Key); err != nil {
			return nil, err
		}
	} else if k.password, err = t.Password(); err != nil {
		return nil, err
	}
	if k.tls, err = k.tlsConfig(ctx); err != nil {
		return nil, err
	}
	chosen := 0
	addrs := make([]string, len(pods))
	containers := make([]string, len(pods))
	if len(pods) > 1 {
		roles := make([]kube.Role, len(pods))
		for i := range pods {
			if addrs[i], containers[i], err = k.reach(ctx, &pods[i]); err != nil {
				k.close()
				return nil, err
			}
			c := k.newClient(addrs[i])
			roles[i], err = probeRole(ctx, c)
			c.Close()
			if err != nil {
				k.close()
				return nil, fmt.Errorf("ask pod %s/%s for its replication role: %w", pods[i].Namespace, pods[i].Name, err)
			}
		}
		if chosen, err = kube.Pick(k.spec, pods, roles, k.kt.Prefer); err != nil {
			k.close()
			return nil, err
		}
	} else if addrs[0], containers[0], err = k.reach(ctx, &pods[0]); err != nil {
		k.close()
		return nil, err
	}
	k.pod, k.container, k.addr = &pods[chosen], containers[chosen], addrs[chosen]
	k.client = k.newClient(k.addr)
	client := k.client
	k.closers = append(k.closers, func() { _ = client.Close() })
	return k, nil
}

// reach returns the address of Redis in pod p, and its container.
func (k *kubeConn) reach(ctx context.Context, p *corev1.Pod) (string, string, error) {
	container, port, err := kube.RedisContainer(p, k.kt.Container)
	if err != nil {
		return "", "", err
	}
	if k.access == "pod-ip" {
		if p.Status.PodIP == "" {
			return "", "", fmt.Errorf("pod %s/%s has no IP yet", p.Namespace, p.Name)
		}
		return net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port)), container, nil
	}
	fw, err := k.kc.PortForward(ctx, p.Namespace, p.Name, port)
	if err != nil {
		return "", "", err
	}
	k.closers = append(k.closers, func() { _ = fw.Close() })
	return fw.Addr, container, nil
}

func (k *kubeConn) newClient(addr string) *redis.Client {
	return redis.New(redis.Options{Addr: addr, Username: k.user, Password: k.password, TLS: k.tls})
}

// secretNames lists the Secrets the target reads.
func (k *kubeConn) secretNames() []string {
	var names []string
	if k.kt.PasswordSecret != nil {
		names = append(names, k.kt.PasswordSecret.Name)
	}
	if k.kt.TLS != nil && k.kt.TLS.CASecret != nil {
		names = append(names, k.kt.TLS.CASecret.Name)
	}
	return names
}

// tlsConfig builds the TLS client config of the target, with the CA from
// its Secret; verification is on unless explicitly turned off.
func (k *kubeConn) tlsConfig(ctx context.Context) (*tls.Config, error) {
	t := k.kt.TLS
	if t == nil {
		return nil, nil
	}
	c := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CASecret != nil {
		pem, err := k.kc.SecretValue(ctx, k.kt.Namespace, t.CASecret.Name, t.CASecret.Key)
		if err != nil {
			return nil, err
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM([]byte(pem)) {
			return nil, fmt.Errorf("secret %s/%s key %s holds no PEM certificate", k.kt.Namespace, t.CASecret.Name, t.CASecret.Key)
		}
	}
	return c, nil
}

// connectKube reaches the Redis of t and builds its backup source.
func connectKube(ctx context.Context, flags *kube.Flags, t *config.Target) (*connection, error) {
	k, err := reachKube(ctx, flags, t, func(k *kubeConn) []kube.Permission {
		return kube.BackupPermissions(k.kt.Namespace, k.spec, t.Source == config.SourceFile, k.access == "port-forward", k.secretNames()...)
	})
	if err != nil {
		return nil, err
	}
	p := k.pod
	conn := &connection{client: k.client, kind: string(t.Source), close: k.close}
	if conn.events, err = k.kc.RecorderFor(ctx, k.spec, p); err != nil {
		k.close()
		return nil, err
	}
	switch t.Source {
	case config.SourceFile:
		conn.source = &backup.FileSource{
			Server:     k.client,
			Files:      &kube.PodFiles{Client: k.kc, Namespace: p.Namespace, Pod: p.Name, Container: k.container, AllowSPDY: k.kt.AllowSPDY},
			Dir:        t.Dir,
			DBFilename: t.DBFilename,
			Where:      "pod " + p.Namespace + "/" + p.Name,
		}
	default:
		// The address is a local port-forward: name the pod instead.
		conn.source = renamed{&redis.PullSource{Addr: k.addr, Username: k.user, Password: k.password, TLS: k.tls}, "replication pod " + p.Namespace + "/" + p.Name}
	}
	return conn, nil
}

// renamed gives a source's streams another Origin.
type renamed struct {
	backup.Source
	origin string
}

func (r renamed) Open(ctx context.Context) (*backup.Stream, error) {
	s, err := r.Source.Open(ctx)
	if s != nil {
		s.Origin = r.origin
	}
	return s, err
}

// probeRole reads INFO replication.
func probeRole(ctx context.Context, c *redis.Client) (kube.Role, error) {
	kv, err := c.Info(ctx, "replication")
	if err != nil {
		return kube.Role{}, err
	}
	r := kube.Role{Master: kv["role"] == "master", LinkUp: kv["master_link_status"] == "up", IOSecondsAgo: -1}
	if s, ok := kv["master_last_io_seconds_ago"]; ok {
		if n, err := strconv.Atoi(s); err == nil {
			r.IOSecondsAgo = n
		}
	}
	if kv["role"] == "" {
		return r, errors.New("INFO replication has no role field")
	}
	return r, nil
}
