package app

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// kubeMaster is a master of a cluster restore in Kubernetes: its pod and
// what Redis in it said.
type kubeMaster struct {
	k      *kubeConn // the pod's own connection (shares the target's closers)
	layout restore.Layout
	major  int
}

// planClusterRestore plans the restore of backup set m into the Redis
// Cluster whose pods t names: each shard onto the master serving its
// slots (restore.MapCluster), installed in place in that master's pod.
// A cluster of another shape is refused, pointing at --replay-to.
func (a *App) planClusterRestore(ctx context.Context, repo *storage.Repo, m *storage.Manifest, t *config.Target, o RestoreOptions) (*Restore, error) {
	if o.Strategy != "" && o.Strategy != "auto" && o.Strategy != string(restore.InPlace) {
		return nil, fmt.Errorf("%w: --strategy %s: a Redis Cluster is restored in place, one master's container at a time, so that each pod keeps the IP the other nodes know it by; use --strategy in-place (the default)",
			restore.ErrBadRequest, o.Strategy)
	}
	encrypted := m.Data.Encrypted() || m.Parts()[0].Data.Encrypted()
	fromSecret := encrypted && t.Encryption.IdentitySecret != nil
	k, err := a.reachKube(ctx, t, func(k *kubeConn) []kube.Permission {
		ps := kube.BackupPermissions(k.kt.Namespace, k.spec, true, k.access == "port-forward", k.secretNames()...)
		ps = append(ps, kube.RestorePermissions(&kube.Workload{Workload: restore.Workload{Namespace: k.kt.Namespace}}, string(restore.InPlace))...)
		if fromSecret {
			ps = append(ps, IdentitySecretPermission(t, k.kt.Namespace)...)
		}
		return ps
	})
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Restore, error) {
		k.close()
		return nil, err
	}
	if encrypted {
		for _, p := range m.Parts()[:1] {
			if o.Identities, err = restoreIdentities(ctx, k, repo, p, t, o.Identities); err != nil {
				return fail(err)
			}
		}
	}
	plan, err := readClusterPlan(ctx, k.client, m)
	if err != nil {
		return fail(err)
	}
	pods, err := k.kc.Candidates(ctx, k.spec)
	if err != nil {
		return fail(err)
	}
	byIP := map[string]*corev1.Pod{}
	for i := range pods {
		byIP[pods[i].Status.PodIP] = &pods[i]
	}
	ks := &kubeSet{kc: k.kc, ns: k.kt.Namespace, podIP: k.access == "pod-ip", allowSPDY: k.kt.AllowSPDY, pods: byIP}
	k.closers = append(k.closers, ks.Close)
	// local is where a node answers from here, by its announced address.
	local := func(addr string) (string, error) {
		if ks.podIP {
			return addr, nil
		}
		return ks.forward(ctx, addr)
	}
	dial := func(addr string) *redis.Client {
		return redis.New(redis.Options{Addr: addr, Username: k.user, Password: k.password, TLS: k.tls, Dial: ks.dial})
	}
	r := &Restore{a: a, repo: repo, target: t, o: o, k: k, log: a.Log.With("target", t.Name, "backup_id", m.ID)}
	parts := m.Parts()
	masters := make([]*kubeMaster, len(plan.Shards))
	var findings []restore.Finding
	for i := range plan.Shards {
		s := &plan.Shards[i]
		p := ks.PodOf(s.MasterAddr)
		if p == nil {
			return fail(fmt.Errorf("master %s (shard-%d) is none of the pods of %s (by IP or host name): name the cluster's pods with the Kubernetes target flags", s.MasterAddr, s.Shard, k.spec.Describe()))
		}
		s.Pod = p.Namespace + "/" + p.Name
		km, fs, err := a.planMaster(ctx, k, t, p, s, parts[s.Shard], local, o.Overrides)
		if err != nil {
			return fail(fmt.Errorf("master %s (shard-%d, pod %s): %w", s.MasterAddr, s.Shard, s.Pod, err))
		}
		masters[i] = km
		findings = append(findings, fs...)
	}
	w, err := k.kc.OwnerOf(ctx, masters[0].k.pod)
	if err != nil {
		return fail(err)
	}
	r.workload = w
	var names []string
	for _, km := range masters {
		names = append(names, km.k.pod.Name)
	}
	r.Plan = &restore.Plan{
		Backup: m, Target: t.Name, Pod: fmt.Sprintf("%d masters (pods %s)", len(plan.Shards), strings.Join(names, ", ")), Workload: w.String(),
		Redis: masters[0].k.pod.Name, Persist: masters[0].layout.Persistence(), Strategy: restore.InPlace, DataDir: masters[0].layout.Dir,
		Findings: findings, Cluster: plan,
		Steps: restore.ClusterSteps(m.ID, plan, masters[0].layout),
	}
	if in, err := k.client.Info(ctx, "server"); err == nil {
		r.Plan.Redis = backup.Identify(in.Server).String()
	}
	r.cluster = &clusterJob{repo: repo, m: m, plan: plan, ids: o.Identities, dial: dial, log: r.log, dbfilename: masters[0].layout.DBFilename, poll: 500 * time.Millisecond, timeout: o.Timeout,
		rollouts: func(ctx context.Context) ([]clusterShard, error) {
			var out []clusterShard
			for i, s := range plan.Shards {
				km, part := masters[i], parts[s.Shard]
				save := func(ctx context.Context) error {
					_, err := backup.Snapshot(ctx, km.k.client, backup.SnapshotOptions{})
					return err
				}
				ro := &kube.InPlace{Client: k.kc, Namespace: km.k.pod.Namespace, Pod: km.k.pod.Name, Container: km.k.container,
					Redis: km.k.client, Version7: km.major >= 7, AllowSPDY: k.kt.AllowSPDY, Timeout: o.Timeout}
				out = append(out, clusterShard{plan: s, part: part, rollout: ro, save: save,
					install: restore.Install{Dir: km.layout.Dir, DBFilename: km.layout.DBFilename, Size: part.Data.RawSize, SHA256: part.Data.RawSHA256}})
			}
			return out, nil
		}}
	return r, nil
}

// planMaster inspects the master of shard s in pod p and runs the
// pre-flight checks of its part; the failover freeze handles its replicas.
func (a *App) planMaster(ctx context.Context, k *kubeConn, t *config.Target, p *corev1.Pod, s *restore.ClusterShard, part *storage.Manifest,
	local func(string) (string, error), ov restore.Overrides) (*kubeMaster, []restore.Finding, error) {
	container, _, err := kube.RedisContainer(p, k.kt.Container)
	if err != nil {
		return nil, nil, err
	}
	addr, err := local(s.MasterAddr)
	if err != nil {
		return nil, nil, err
	}
	mk := &kubeConn{kc: k.kc, kt: k.kt, spec: k.spec, access: k.access, pod: p, container: container, addr: addr,
		user: k.user, password: k.password, tls: k.tls}
	mk.client = mk.newClient(addr)
	k.closers = append(k.closers, func() { _ = mk.client.Close() })
	in, err := inspect(ctx, mk, t)
	if err != nil {
		return nil, nil, err
	}
	km := &kubeMaster{k: mk, layout: in.layout, major: in.major}
	var fs []restore.Finding
	prefix := fmt.Sprintf("shard-%d (%s, pod %s): ", s.Shard, s.MasterAddr, p.Name)
	add := func(f restore.Finding) {
		f.Detail = prefix + f.Detail
		fs = append(fs, f)
	}
	mount := kube.DataVolume(p, container, in.layout.Dir)
	if _, err := restore.ChooseStrategy(string(restore.InPlace), restore.Workload{}, volumeOf(mount), in.layout); err != nil {
		add(restore.Finding{Refuse: true, Check: "strategy", Detail: err.Error()})
	}
	if f := restore.ClusterMasterLayout(in.layout); f != nil {
		add(*f)
	}
	conf, err := mk.client.ConfigGet(ctx, "cluster-config-file")
	if err != nil {
		return nil, nil, err
	}
	if !path.IsAbs(conf) {
		conf = path.Join(in.layout.Dir, conf)
	}
	if kube.DataVolume(p, container, path.Dir(conf)) == nil {
		add(restore.Finding{Refuse: true, Check: "nodes.conf", Detail: conf + " is not on a volume: the restart would lose the node's identity and slots; keep cluster-config-file on the data volume"})
	} else {
		add(restore.Finding{Check: "nodes.conf", Detail: conf + " is on a volume: the node keeps its id " + s.Master + ", its slots " + s.Slots + " and its epoch across the restart"})
	}
	ti := in.target
	ti.FreeBytes = freeBytes(ctx, mk, in.layout.Dir)
	ti.MemoryLimit = memoryLimit(p, container)
	ti.Replicas = 0 // frozen, then resynced from the restored master
	ov.AllowReplicas = true
	for _, f := range restore.Preflight(part, ti, ov) {
		add(f)
	}
	if len(s.Replicas) > 0 {
		add(restore.Finding{Check: "replicas", Detail: fmt.Sprintf("%s frozen (%s yes) during the restore, then full-resynced from the restored master", strings.Join(s.Replicas, ", "), noFailoverKey)})
	}
	return km, fs, nil
}
