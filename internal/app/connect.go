package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/storage"
)

// UsageError marks an error in what the user asked for (a flag, a target
// field): the command line exits 2 for it.
type UsageError struct{ Err error }

func (u UsageError) Error() string { return u.Err.Error() }
func (u UsageError) Unwrap() error { return u.Err }

// App runs rdbak's jobs.
type App struct {
	Log *slog.Logger
	// Kube says how to reach Kubernetes (the kubectl flags, or the pod's
	// ServiceAccount); only targets with a kubernetes block use it.
	Kube *kube.Flags
	// Version is rdbak's, recorded in manifests.
	Version string
	// CallerReports says the caller prints the errors the jobs return (the
	// command line does, once); the jobs then log their failures at debug
	// level only. The daemon leaves it false: its log is the only report.
	CallerReports bool
	// HTTPClient sends failure notifications; http.DefaultClient when nil.
	HTTPClient *http.Client
	// NotifyBackoff is the first pause between webhook attempts; 1s when 0.
	NotifyBackoff time.Duration
	// Drills is the daemon's drill of one target; nil: ScheduledDrill.
	Drills DrillFunc
}

// failureLevel is the level at which a job logs its own failure.
func failureLevel(callerReports bool) slog.Level {
	if callerReports {
		return slog.LevelDebug
	}
	return slog.LevelError
}

// failed logs a job's failure at the level failureLevel gives.
func (a *App) failed(ctx context.Context, log *slog.Logger, msg string, err error) {
	log.Log(ctx, failureLevel(a.CallerReports), msg, "error", err.Error())
}

// Conn is a Redis reached for one backup: its snapshot source, a client for
// questions, and what to close after.
type Conn struct {
	Source backup.Source
	Client *redis.Client
	Kind   string // replication or file
	// Topology is the replication set and the node chosen in it, for the
	// manifest (Sentinel targets; nil otherwise).
	Topology *storage.Topology
	// events records outcomes on the Kubernetes workload (nil outside
	// Kubernetes).
	events eventRecorder
	// node reaches another node of the same Redis Cluster by the address
	// the cluster announces, with the target's credentials; nil when the
	// announced addresses are not reachable from here (a port-forward).
	node  func(addr string) *nodeConn
	close func()
}

// Close releases the connection.
func (c *Conn) Close() { c.close() }

// Connect reaches the Redis of t and builds its snapshot source. The
// caller closes the connection.
func (a *App) Connect(ctx context.Context, t *config.Target) (*Conn, error) {
	if t.Sentinel != nil {
		return a.connectSentinel(ctx, t)
	}
	if t.Kubernetes != nil {
		return a.connectKube(ctx, t)
	}
	addr, password, tlsConf, err := endpointOf(t)
	if err != nil {
		return nil, err
	}
	client := redis.New(redis.Options{Addr: addr, Username: t.User(), Password: password, TLS: tlsConf})
	conn := &Conn{Client: client, Kind: string(t.Source), close: func() { _ = client.Close() },
		node: nodeDialer(t.User(), password, tlsConf)}
	switch t.Source {
	case config.SourceFile:
		conn.Source = &backup.FileSource{Server: client, Files: backup.LocalFiles{}, Dir: t.Dir, DBFilename: t.DBFilename,
			Snapshot: backup.SnapshotOptions{Log: a.Log.With("target", t.Name)}}
	default:
		conn.Source = withForkCost{&redis.PullSource{Addr: addr, Username: t.User(), Password: password, TLS: tlsConf}, "", client}
	}
	return conn, nil
}

// connectKube reaches the Redis of t in its pod and builds its source.
func (a *App) connectKube(ctx context.Context, t *config.Target) (*Conn, error) {
	k, err := a.reachKube(ctx, t, func(k *kubeConn) []kube.Permission {
		return kube.BackupPermissions(k.kt.Namespace, k.spec, t.Source == config.SourceFile, k.access == "port-forward", k.secretNames()...)
	})
	if err != nil {
		return nil, err
	}
	p := k.pod
	a.Log.DebugContext(ctx, "reached Redis in Kubernetes", "target", t.Name, "pod", p.Namespace+"/"+p.Name,
		"container", k.container, "access", k.access, "source", t.Source)
	conn := &Conn{Client: k.client, Kind: string(t.Source), Topology: k.topology, close: k.close}
	if k.access == "pod-ip" {
		conn.node = nodeDialer(k.user, k.password, k.tls)
	}
	rec, err := k.kc.RecorderFor(ctx, k.spec, p)
	if err != nil {
		k.close()
		return nil, err
	}
	conn.events = rec
	switch t.Source {
	case config.SourceFile:
		conn.Source = &backup.FileSource{
			Server:     k.client,
			Files:      &kube.PodFiles{Client: k.kc, Namespace: p.Namespace, Pod: p.Name, Container: k.container, AllowSPDY: k.kt.AllowSPDY},
			Dir:        t.Dir,
			DBFilename: t.DBFilename,
			Where:      "pod " + p.Namespace + "/" + p.Name,
			Snapshot:   backup.SnapshotOptions{Log: a.Log.With("target", t.Name)},
		}
	default:
		// The address is a local port-forward: name the pod instead.
		conn.Source = withForkCost{&redis.PullSource{Addr: k.addr, Username: k.user, Password: k.password, TLS: k.tls},
			"replication pod " + p.Namespace + "/" + p.Name, k.client}
	}
	return conn, nil
}

// withForkCost gives a pulled stream its fork's copy-on-write cost, which
// Redis reports only once it has reaped the replication child, and
// optionally another Origin.
type withForkCost struct {
	backup.Source
	origin string
	srv    backup.Server
}

func (w withForkCost) Open(ctx context.Context) (*backup.Stream, error) {
	s, err := w.Source.Open(ctx)
	if s != nil {
		if w.origin != "" {
			s.Origin = w.origin
		}
		s.ForkCost = func(ctx context.Context) int64 { return ForkCost(ctx, w.srv, pollInterval) }
	}
	return s, err
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
	// topology is the replication group the pod was chosen from, when
	// several pods were asked (nil otherwise).
	topology *storage.Topology
	// group are the pods asked, with where each answers, when several
	// were (a restore into the master waits for the others).
	group []groupPod
}

// groupPod is one pod of a target's spec that answered.
type groupPod struct {
	pod  *corev1.Pod
	addr string
}

func (k *kubeConn) close() {
	for i := len(k.closers) - 1; i >= 0; i-- {
		k.closers[i]()
	}
}

// SpecOf returns the adapter's spec of a config kubernetes block.
func SpecOf(kt *config.KubeTarget) kube.Spec {
	return kube.Spec{Namespace: kt.Namespace, Pod: kt.Pod, StatefulSet: kt.StatefulSet, Deployment: kt.Deployment,
		Selector: kt.Selector, HelmRelease: kt.HelmRelease, Component: kt.Component, Container: kt.Container}
}

// reachKube finds the pod of t, checks the permissions need lists first,
// and reaches Redis in it. The caller closes the connection.
func (a *App) reachKube(ctx context.Context, t *config.Target, need func(k *kubeConn) []kube.Permission) (*kubeConn, error) {
	if a.Kube == nil {
		return nil, errors.New("target " + t.Name + " is in Kubernetes, but no Kubernetes client configuration was given")
	}
	k := &kubeConn{kt: *t.Kubernetes, user: t.User()}
	var err error
	if k.kc, err = a.Kube.Client(); err != nil {
		return nil, err
	}
	if k.kt.Namespace == "" {
		if k.kt.Namespace, err = a.Kube.Namespace(); err != nil {
			return nil, err
		}
	}
	k.spec = SpecOf(&k.kt)
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
	if err := k.choose(ctx, pods); err != nil {
		k.close()
		return nil, err
	}
	k.client = k.newClient(k.addr)
	client := k.client
	k.closers = append(k.closers, func() { _ = client.Close() })
	return k, nil
}

// choose picks the pod to use among the candidates: the only one, or the
// one kube.Pick chooses by the replication roles the pods report.
func (k *kubeConn) choose(ctx context.Context, pods []corev1.Pod) error {
	addrs := make([]string, len(pods))
	containers := make([]string, len(pods))
	chosen := 0
	var err error
	if len(pods) == 1 {
		if addrs[0], containers[0], err = k.reach(ctx, &pods[0]); err != nil {
			return err
		}
	} else {
		roles := make([]kube.Role, len(pods))
		for i := range pods {
			if addrs[i], containers[i], err = k.reach(ctx, &pods[i]); err != nil {
				return err
			}
			c := k.newClient(addrs[i])
			in, ierr := c.Info(ctx, "cluster")
			roles[i], err = ProbeRole(ctx, c)
			c.Close()
			if err == nil {
				err = ierr
			}
			if err != nil {
				return fmt.Errorf("ask pod %s/%s for its replication role: %w", pods[i].Namespace, pods[i].Name, err)
			}
			if in.Cluster.Enabled {
				// Pods of a Redis Cluster: several masters are its
				// shards, and any node names the whole cluster.
				k.pod, k.container, k.addr = &pods[i], containers[i], addrs[i]
				return nil
			}
		}
		if chosen, err = k.pick(ctx, pods, addrs, roles); err != nil {
			return err
		}
		k.topology = groupTopology(pods, roles, chosen, k.kt.Prefer)
		for i := range pods {
			k.group = append(k.group, groupPod{pod: &pods[i], addr: addrs[i]})
		}
	}
	k.pod, k.container, k.addr = &pods[chosen], containers[chosen], addrs[chosen]
	return nil
}

// pick is kube.Pick, except that when the pods hold one master, a replica
// it chooses must first reach what that master had written when asked
// (catchUp): one that does not is marked Behind and passed over, and Pick
// chooses again.
func (k *kubeConn) pick(ctx context.Context, pods []corev1.Pod, addrs []string, roles []kube.Role) (int, error) {
	master, masters := -1, 0
	for i, r := range roles {
		if r.Master {
			master, masters = i, masters+1
		}
	}
	for {
		chosen, err := kube.Pick(k.spec, pods, roles, k.kt.Prefer)
		if err != nil || roles[chosen].Master || masters != 1 {
			return chosen, err
		}
		c := k.newClient(addrs[chosen])
		roles[chosen].Offset, err = catchUp(ctx, c, roles[chosen].Offset, roles[master].Offset)
		c.Close()
		if err == nil {
			return chosen, nil
		}
		roles[chosen].Behind = err.Error()
	}
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

// ProbeRole asks a server for its replication role, for kube.Pick.
func ProbeRole(ctx context.Context, srv backup.Server) (kube.Role, error) {
	in, err := srv.Info(ctx, "replication")
	if err != nil {
		return kube.Role{}, err
	}
	r := in.Replication
	if r.Role == "" {
		return kube.Role{}, errors.New("INFO replication has no role field")
	}
	return kube.Role{Master: r.IsMaster(), LinkUp: r.MasterLinkUp, IOSecondsAgo: r.MasterLastIO, Offset: r.MasterReplOffset}, nil
}

// groupTopology describes the replication group of pods (without
// Sentinel: the Bitnami replication architecture, a selector over master
// and replica pods) for the manifest: which pod kube.Pick chose and why.
// Nil when the pods hold no replica, e.g. several Deployments' pods.
func groupTopology(pods []corev1.Pod, roles []kube.Role, chosen int, prefer string) *storage.Topology {
	tp := &storage.Topology{}
	name := func(i int) string { return pods[i].Namespace + "/" + pods[i].Name }
	master := -1
	for i, r := range roles {
		if r.Master {
			master = i
			tp.Master = name(i)
			tp.MasterOffset = r.Offset
		} else {
			tp.Replicas = append(tp.Replicas, name(i))
		}
	}
	if len(tp.Replicas) == 0 {
		return nil
	}
	c := roles[chosen]
	tp.Chosen, tp.ChosenPod, tp.Offset = name(chosen), name(chosen), c.Offset
	switch {
	case c.Master:
		tp.ChosenRole, tp.Reason = "master", "the master (prefer: master, the default; prefer: replica backs up a healthy replica)"
		if prefer == "replica" {
			tp.Reason = "the master: no replica has a live link (prefer: replica)"
			var behind []string
			for i, r := range roles {
				if r.Behind != "" {
					behind = append(behind, name(i)+" "+r.Behind)
				}
			}
			if len(behind) > 0 {
				tp.Reason = "the master: no replica has a live link and its master's writes (prefer: replica); passed over " + strings.Join(behind, "; ")
			}
		}
	default:
		tp.ChosenRole = "replica"
		lag := ""
		if master >= 0 {
			lag = fmt.Sprintf(", %d bytes behind the master", max(tp.MasterOffset-c.Offset, 0))
		}
		tp.Reason = fmt.Sprintf("replica with a live link (last I/O %d s ago%s)", c.IOSecondsAgo, lag)
		if prefer == "replica" {
			tp.Reason += ", as prefer: replica asks"
		} else {
			tp.Reason += ": no master among the pods"
		}
	}
	return tp
}

// endpointOf is where a target named by URL listens: its address, the
// password (URL, file or environment) and, for rediss://, the TLS config.
func endpointOf(t *config.Target) (addr, password string, tlsConf *tls.Config, err error) {
	addr, useTLS, err := t.Endpoint()
	if err != nil {
		return "", "", nil, UsageError{Err: err}
	}
	if password, err = t.Password(); err != nil {
		return "", "", nil, err
	}
	if useTLS {
		host, _, _ := net.SplitHostPort(addr)
		tlsConf = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return addr, password, tlsConf, nil
}
