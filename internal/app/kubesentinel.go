package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// kubeSet reaches a Sentinel set in Kubernetes. The Sentinels report pod
// IPs; inside the cluster rdbak dials them, outside it dials each through
// a port-forward to the pod that has that IP (one forward per address,
// opened when first dialled). Close stops the forwards.
type kubeSet struct {
	kc        *kube.Client
	ns        string
	podIP     bool // dial pod IPs directly
	allowSPDY bool
	pods      map[string]*corev1.Pod // by pod IP: the data and Sentinel pods

	mu       sync.Mutex
	forwards map[string]*kube.Forward // by reported address
}

func (k *kubeSet) Close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, f := range k.forwards {
		_ = f.Close()
	}
	k.forwards = nil
}

// dial connects to an address the Sentinels report.
func (k *kubeSet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	if k.podIP {
		return d.DialContext(ctx, network, addr)
	}
	local, err := k.forward(ctx, addr)
	if err != nil {
		return nil, err
	}
	return d.DialContext(ctx, network, local)
}

func (k *kubeSet) forward(ctx context.Context, addr string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if f, ok := k.forwards[addr]; ok {
		return f.Addr, nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	p := k.PodOf(addr)
	if p == nil {
		return "", fmt.Errorf("%s, as the Sentinels or the Redis Cluster report it, names none of the target's pods nor the Sentinel pods (by IP, or by host name: pod.service...): check kubernetes and sentinel.kubernetes", addr)
	}
	n, _ := strconv.Atoi(port)
	f, err := k.kc.PortForward(ctx, p.Namespace, p.Name, n)
	if err != nil {
		return "", err
	}
	if k.forwards == nil {
		k.forwards = map[string]*kube.Forward{}
	}
	k.forwards[addr] = f
	return f.Addr, nil
}

// PodOf returns the pod addr names, nil if none: by its IP, or by a host
// name whose first label is the pod's name (a StatefulSet pod's DNS name,
// as Sentinels report it with announce-hostnames, e.g. the Bitnami chart's
// useHostnames).
func (k *kubeSet) PodOf(addr string) *corev1.Pod {
	return podOf(k.pods, addr)
}

func podOf(pods map[string]*corev1.Pod, addr string) *corev1.Pod {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	if p, ok := pods[host]; ok {
		return p
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	name, rest, _ := strings.Cut(host, ".")
	for _, p := range pods {
		// pod.service.namespace...: the namespace, when given, must match.
		if p.Name == name && (rest == "" || !strings.Contains(rest, ".") || strings.Split(rest, ".")[1] == p.Namespace) {
			return p
		}
	}
	return nil
}

// kubeSentinelOptions finds the data and Sentinel pods of t, reads the
// passwords from their Secrets, and returns the options that reach the
// set through them. The caller closes the kubeSet.
func (a *App) kubeSentinelOptions(ctx context.Context, t *config.Target) (SentinelOptions, *kubeSet, error) {
	var o SentinelOptions
	if a.Kube == nil {
		return o, nil, errors.New("target " + t.Name + " is in Kubernetes, but no Kubernetes client configuration was given")
	}
	kc, err := a.Kube.Client()
	if err != nil {
		return o, nil, err
	}
	kt := *t.Kubernetes
	if kt.Namespace == "" {
		if kt.Namespace, err = a.Kube.Namespace(); err != nil {
			return o, nil, err
		}
	}
	sk := *t.Sentinel.Kubernetes
	if sk.Namespace == "" {
		sk.Namespace = kt.Namespace
	}
	access := kt.Access
	if access == "" || access == "auto" {
		access = "port-forward"
		if kc.InCluster {
			access = "pod-ip"
		}
	}
	k := &kubeSet{kc: kc, ns: kt.Namespace, podIP: access == "pod-ip", allowSPDY: kt.AllowSPDY, pods: map[string]*corev1.Pod{}}
	kcn := &kubeConn{kc: kc, kt: kt}
	perms := kube.BackupPermissions(kt.Namespace, SpecOf(&kt), false, !k.podIP, kcn.secretNames()...)
	var sentinelSecret string
	if ps := t.Sentinel.PasswordSecret; ps != nil {
		sentinelSecret = ps.Name
	}
	perms = append(perms, kube.BackupPermissions(sk.Namespace, kube.Spec{Selector: sk.Selector}, false, !k.podIP, sentinelSecret)...)
	if sk.Service != "" {
		perms = append(perms, kube.Permission{Resource: "services", Verb: "get", Namespace: sk.Namespace, Name: sk.Service})
	}
	if err := kc.Check(ctx, perms); err != nil {
		return o, nil, err
	}
	data, err := kc.Candidates(ctx, SpecOf(&kt))
	if err != nil {
		return o, nil, err
	}
	sel := sk.Selector
	if sk.Service != "" {
		if sel, err = kc.ServiceSelector(ctx, sk.Namespace, sk.Service); err != nil {
			return o, nil, err
		}
	}
	sentinels, err := kc.Candidates(ctx, kube.Spec{Namespace: sk.Namespace, Selector: sel})
	if err != nil {
		return o, nil, fmt.Errorf("sentinel.kubernetes: %w", err)
	}
	for _, list := range [][]corev1.Pod{data, sentinels} {
		for i := range list {
			if ip := list[i].Status.PodIP; ip != "" {
				k.pods[ip] = &list[i]
			}
		}
	}
	o = SentinelOptions{MasterName: t.Sentinel.MasterName, SentinelUser: t.Sentinel.Username, User: t.User(),
		PreferMaster: t.Sentinel.Prefer == "master", MaxLag: int64(t.Sentinel.MaxLagBytes), Dial: k.dial}
	for i := range sentinels {
		p := &sentinels[i]
		port, err := sentinelPort(p, sk.Container)
		if err != nil {
			return o, nil, err
		}
		o.Sentinels = append(o.Sentinels, net.JoinHostPort(p.Status.PodIP, strconv.Itoa(port)))
	}
	if kt.PasswordSecret != nil {
		o.Password, err = kc.SecretValue(ctx, kt.Namespace, kt.PasswordSecret.Name, kt.PasswordSecret.Key)
	} else {
		o.Password, err = t.Password()
	}
	if err != nil {
		return o, nil, err
	}
	if ps := t.Sentinel.PasswordSecret; ps != nil {
		o.SentinelPassword, err = kc.SecretValue(ctx, sk.Namespace, ps.Name, ps.Key)
	} else {
		o.SentinelPassword, err = t.Sentinel.Password(t.Name)
	}
	if err != nil {
		return o, nil, err
	}
	if o.TLS, err = kcn.tlsConfig(ctx); err != nil {
		return o, nil, err
	}
	return o, k, nil
}

// sentinelPort is the port of the Sentinel in pod p: of container name,
// or of the container that exposes 26379.
func sentinelPort(p *corev1.Pod, name string) (int, error) {
	for _, c := range p.Spec.Containers {
		for _, port := range c.Ports {
			if name != "" && c.Name == name || name == "" && port.ContainerPort == config.DefaultSentinelPort {
				return int(port.ContainerPort), nil
			}
		}
		if name != "" && c.Name == name {
			return config.DefaultSentinelPort, nil
		}
	}
	if name != "" {
		return 0, fmt.Errorf("sentinel.kubernetes.container: pod %s/%s has no container %q", p.Namespace, p.Name, name)
	}
	return 0, fmt.Errorf("pod %s/%s has no container exposing port %d: name the Sentinel's with sentinel.kubernetes.container", p.Namespace, p.Name, config.DefaultSentinelPort)
}

// planSetRestore plans a restore into the master of a Sentinel set in
// Kubernetes: the plan of an in-place restore of the master's pod, inside
// the failover freeze of restore.ReplicatedSteps. The replicas' and
// Sentinel's refusals give way to that sequence; a set not fit for it
// (a failover running, a Sentinel or replica out of reach) is refused.
func (a *App) planSetRestore(ctx context.Context, repo *storage.Repo, m *storage.Manifest, t *config.Target, o RestoreOptions) (*Restore, error) {
	so, k, err := a.kubeSentinelOptions(ctx, t)
	if err != nil {
		return nil, err
	}
	set, err := discover(ctx, so)
	if err != nil {
		k.Close()
		return nil, err
	}
	fail := func(err error) (*Restore, error) {
		set.Close()
		k.Close()
		return nil, err
	}
	p := k.PodOf(set.master.Addr)
	if p == nil {
		return fail(fmt.Errorf("the Sentinels name %s as master, the IP of none of the pods of %s", set.master.Addr, SpecOf(t.Kubernetes).Describe()))
	}
	// The master's own pod, as a target of its own.
	pinned := *t
	kt := *t.Kubernetes
	kt.Namespace, kt.Pod, kt.StatefulSet, kt.Deployment, kt.Selector, kt.HelmRelease, kt.Component = p.Namespace, p.Name, "", "", "", "", ""
	pinned.Kubernetes, pinned.Sentinel = &kt, nil
	if o.Strategy == "" || o.Strategy == "auto" {
		// Each node has its own volume and the others keep running:
		// only the master's container restarts.
		o.Strategy = string(restore.InPlace)
	}
	o.Overrides.AllowReplicas = true // the freeze below handles them
	r, err := a.planRestore(ctx, repo, m, &pinned, o)
	if err != nil {
		return fail(err)
	}
	r.set, r.kset = set, k
	sp := set.setPlan(ctx)
	r.Plan.Set = &sp
	r.Plan.Target = t.Name
	r.Plan.Steps = restore.ReplicatedSteps(sp, r.Plan.Steps)
	var findings []restore.Finding
	for _, f := range r.Plan.Findings {
		if f.Check != "replicas" && f.Check != "sentinel" {
			findings = append(findings, f)
		}
	}
	findings = append(findings, restore.Finding{Check: "sentinel set", Detail: fmt.Sprintf(
		"%s: master %s (pod %s) with %d replicas, %d Sentinels; failover is frozen for the restore and the replicas resync from the restored master",
		so.MasterName, set.master.Addr, p.Namespace+"/"+p.Name, len(set.replicas), len(set.sentinels))})
	rec, err := newFreezeStore(repo, t.Name).read(ctx)
	switch {
	case err != nil:
		findings = append(findings, restore.Finding{Refuse: true, Check: "failover freeze", Detail: err.Error()})
	case rec != nil && !rec.Stale(time.Now()):
		findings = append(findings, restore.Finding{Refuse: true, Check: "failover freeze", Detail: fmt.Sprintf(
			"%v: %s, started %s, lease until %s; wait for it to end", ErrFrozenByOther, rec.Holder, rec.Started.Format(time.RFC3339), rec.Expires.Format(time.RFC3339))})
	case rec != nil:
		findings = append(findings, restore.Finding{Check: "failover freeze", Detail: fmt.Sprintf(
			"a restore that died (%s, started %s) left failover frozen; this restore first puts back the priorities it recorded: %v",
			rec.Holder, rec.Started.Format(time.RFC3339), rec.Replicas)})
	case frozenAll(sp):
		findings = append(findings, restore.Finding{Check: "replica-priority", Detail: "every replica already has replica-priority 0, so no Sentinel can fail over; " +
			"if a restore was killed before it could put the priorities back, set them by hand (CONFIG SET replica-priority 100 on each replica): this restore puts back what it finds"})
	}
	if err := set.restorable(ctx); err != nil {
		findings = append(findings, restore.Finding{Refuse: true, Check: "sentinel set", Detail: err.Error()})
	}
	r.Plan.Findings = findings
	return r, nil
}

// frozenAll reports whether every replica has replica-priority 0, as a
// restore killed midway (SIGKILL) leaves them.
func frozenAll(p restore.SetPlan) bool {
	for _, r := range p.Replicas {
		if r.Priority != "0" {
			return false
		}
	}
	return len(p.Replicas) > 0
}
