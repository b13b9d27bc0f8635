package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/redis/info"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// RestoreOptions are the choices of a restore into Kubernetes.
type RestoreOptions struct {
	Strategy   string // auto, offline or in-place
	Image      string // rdbak image of the offline strategy's restore pod (DefaultImage)
	PullPolicy string
	// Resources of the restore pod's container; none when empty.
	Resources corev1.ResourceRequirements
	Overrides restore.Overrides
	// Timeout bounds each wait of the rollout (pods gone, Ready).
	Timeout time.Duration
	// Identities decrypt an encrypted backup (see Identities).
	Identities *crypt.Identities
}

// Restore is a restore into a running Redis, planned: Plan says what Run
// will do. Close releases its connection whether or not it ran.
type Restore struct {
	Plan *restore.Plan

	a        *App
	log      *slog.Logger
	repo     *storage.Repo
	target   *config.Target
	o        RestoreOptions
	k        *kubeConn
	workload *kube.Workload
	mount    *kube.DataMount
	layout   restore.Layout
	major    int
	// closeRepo: Close closes repo too (PlanRestoreInto opened it).
	closeRepo bool
	// set and kset are the Sentinel set the master belongs to, for a
	// restore inside the failover freeze (nil otherwise).
	set  *replicaSet
	kset *kubeSet
	// repl is the replication set without Sentinel the master belongs
	// to, when rdbak understands it (planReplication; nil otherwise).
	repl *replicaSet
	// cluster restores a backup set into a Redis Cluster of the same
	// shape (nil otherwise).
	cluster *clusterJob
}

// Close releases the connection to the target.
func (r *Restore) Close() {
	r.k.close()
	if r.set != nil {
		r.set.Close()
		r.kset.Close()
	}
	if r.closeRepo {
		_ = r.repo.Close()
	}
}

// PlanRestore reaches the Redis of t, learns what it runs and how it
// persists, chooses the strategy and runs the pre-flight checks of backup m
// against it. It changes nothing. A plan whose findings refuse the restore
// is returned with them (Plan.Refused); an error means no plan could be
// made.
func (a *App) PlanRestore(ctx context.Context, repo *storage.Repo, m *storage.Manifest, t *config.Target, o RestoreOptions) (*Restore, error) {
	if t.Sentinel != nil && t.Kubernetes == nil {
		return nil, UsageError{Err: fmt.Errorf("target %q is a Sentinel set reached by addresses: rdbak cannot install a file on its master from here; "+
			"restore with --to-file PATH and follow deploy/runbooks/restore-sentinel-set.md, which freezes failover the same way", t.Name)}
	}
	if t.Kubernetes == nil && m.IsSet() {
		return nil, UsageError{Err: fmt.Errorf("target %q is not in Kubernetes: rdbak cannot install backup set %s's RDBs on the cluster's nodes from here; "+
			"restore it by key replay with --replay-to URL (into a cluster of any shape), or name the cluster's pods (--statefulset, --selector)", t.Name, m.ID)}
	}
	if t.Kubernetes == nil {
		return nil, UsageError{Err: fmt.Errorf("target %q is not in Kubernetes: restore it with --to-file PATH", t.Name)}
	}
	if m.IsSet() {
		if err := restore.CheckDecryptable(m, o.Identities); err != nil && t.Encryption.IdentitySecret == nil {
			return nil, err
		}
		return a.planClusterRestore(ctx, repo, m, t, o)
	}
	if err := restore.CheckSingle(m); err != nil {
		return nil, err
	}
	encrypted := m.Data.Encrypted()
	fromSecret := encrypted && t.Encryption.IdentitySecret != nil
	if !fromSecret {
		if err := restore.CheckDecryptable(m, o.Identities); err != nil {
			return nil, err
		}
	}
	if t.Sentinel != nil {
		return a.planSetRestore(ctx, repo, m, t, o)
	}
	return a.planRestore(ctx, repo, m, t, o)
}

// planRestore plans the restore into the pod of t.
func (a *App) planRestore(ctx context.Context, repo *storage.Repo, m *storage.Manifest, t *config.Target, o RestoreOptions) (*Restore, error) {
	encrypted := m.Data.Encrypted()
	fromSecret := encrypted && t.Encryption.IdentitySecret != nil
	k, err := a.reachKube(ctx, t, func(k *kubeConn) []kube.Permission {
		ps := kube.BackupPermissions(k.kt.Namespace, k.spec, true, k.access == "port-forward", k.secretNames()...)
		if fromSecret {
			ps = append(ps, IdentitySecretPermission(t, k.kt.Namespace)...)
		}
		return ps
	})
	if err != nil {
		return nil, err
	}
	if encrypted {
		if o.Identities, err = restoreIdentities(ctx, k, repo, m, t, o.Identities); err != nil {
			k.close()
			return nil, err
		}
	}
	r := &Restore{a: a, repo: repo, target: t, o: o, k: k,
		log: a.Log.With("target", t.Name, "backup_id", m.ID, "pod", k.pod.Namespace+"/"+k.pod.Name)}
	if err := r.plan(ctx, m); err != nil {
		k.close()
		return nil, err
	}
	return r, nil
}

// restoreIdentities adds t's identitySecret (in the target's namespace) to
// ids and checks that they open backup m, before anything is changed.
func restoreIdentities(ctx context.Context, k *kubeConn, repo *storage.Repo, m *storage.Manifest, t *config.Target, ids *crypt.Identities) (*crypt.Identities, error) {
	if t.Encryption.IdentitySecret != nil {
		more, err := IdentitySecret(ctx, k.kc, k.kt.Namespace, t)
		if err != nil {
			return nil, err
		}
		ids = ids.Join(more)
	}
	if err := restore.CheckIdentity(ctx, repo, m, ids); err != nil {
		return nil, err
	}
	return ids, nil
}

func (r *Restore) plan(ctx context.Context, m *storage.Manifest) error {
	k := r.k
	in, err := inspect(ctx, k, r.target)
	if err != nil {
		return err
	}
	r.layout, r.major = in.layout, in.major
	if r.workload, err = k.kc.OwnerOf(ctx, k.pod); err != nil {
		return err
	}
	r.mount = kube.DataVolume(k.pod, k.container, r.layout.Dir)
	strategy, err := restore.ChooseStrategy(r.o.Strategy, r.workload.Workload, volumeOf(r.mount), r.layout)
	if err != nil {
		return err
	}
	if err := k.kc.Check(ctx, kube.RestorePermissions(r.workload, string(strategy))); err != nil {
		return err
	}
	ti := in.target
	if r.layout.AOF.Mode == "" {
		ti.StaleAOF = aofOnDisk(ctx, k, r.layout.Dir, r.major)
	}
	ti.FreeBytes = freeBytes(ctx, k, r.layout.Dir)
	ti.MemoryLimit = memoryLimit(k.pod, k.container)
	ti.Sentinel = sentinelIn(k.pod)
	r.Plan = &restore.Plan{
		Backup: m, Target: r.target.Name, Pod: k.pod.Namespace + "/" + k.pod.Name, Workload: r.workload.String(),
		Redis: ti.RedisVersion, Persist: r.layout.Persistence(), Strategy: strategy, DataDir: r.layout.Dir,
		Findings: restore.Preflight(m, ti, r.o.Overrides),
		Steps:    restore.Steps(strategy, m.ID, r.workload.Workload, r.layout, kube.RestoreReplicasAnnotation),
		Estimate: restore.EstimateOf(strategy, m.Data.RawSize, r.layout.AOF.Mode == ""),
	}
	if strategy == restore.Offline || strategy == restore.Restart {
		r.Plan.Findings = append(r.Plan.Findings, r.tryStaging(ctx))
	}
	if ti.Replicas > 0 && ti.Sentinel == "" && !r.o.Overrides.AllowReplicas && r.target.Sentinel == nil {
		r.planReplication(ctx, ti.Replicas)
	}
	return nil
}

// offline is the rollout of the offline and restart strategies, without
// the restart.
func (r *Restore) offline() *kube.Offline {
	k := r.k
	return &kube.Offline{Client: k.kc, Workload: r.workload, Pod: k.pod, Container: k.container, Mount: r.mount, Redis: k.client, Image: r.o.Image,
		PullPolicy: corev1.PullPolicy(r.o.PullPolicy), Resources: r.o.Resources, AllowSPDY: k.kt.AllowSPDY, Timeout: r.o.Timeout}
}

// tryStaging has the API server admit the staging pod in a dry run: what
// would refuse it (a ResourceQuota, a LimitRange, Pod Security) refuses the
// plan, where it is cheap, rather than the restore.
func (r *Restore) tryStaging(ctx context.Context) restore.Finding {
	err := r.offline().TryStaging(ctx)
	switch {
	case err == nil:
		return restore.Finding{Check: "staging-pod", Detail: "the API server admits the staging pod (image " + r.o.Image + ") in a dry run"}
	case kube.IsStagingRefused(err):
		return restore.Finding{Refuse: true, Check: "staging-pod", Detail: err.Error()}
	}
	return restore.Finding{Check: "staging-pod", Detail: "not tried in a dry run (" + err.Error() + "); the restore creates it before it stops Redis"}
}

// volumeOf classifies the mount that holds Redis's dir.
func volumeOf(m *kube.DataMount) restore.Volume {
	switch {
	case m == nil:
		return restore.NoVolume
	case m.Volume.EmptyDir != nil:
		return restore.Ephemeral
	}
	return restore.Persistent
}

// Run carries out the plan: it stages the backup beside the live data,
// verifying it on the way, then stops Redis, swaps the file in, starts
// Redis and checks what it loaded (restore.Apply, which undoes its steps on
// failure); Plan.Measured has the timings. It refuses a plan with
// refusals.
func (r *Restore) Run(ctx context.Context) error {
	if err := r.Plan.Refused(); err != nil {
		return err
	}
	if r.cluster != nil {
		if err := r.cluster.run(ctx); err != nil {
			r.a.failed(ctx, r.log, "restore failed", err)
			return err
		}
		r.Plan.Result = "restored"
		for _, s := range r.Plan.Cluster.Shards {
			r.Plan.PreRestore = append(r.Plan.PreRestore, s.Pod+":"+r.Plan.DataDir+"/"+r.cluster.dbfilename+restore.PreRestoreSuffix)
		}
		r.log.Info("restore succeeded on every master of the cluster", "shards", len(r.Plan.Cluster.Shards), "keys", r.Plan.Backup.Keys())
		return nil
	}
	if r.set != nil {
		// The set may have changed since the plan (a failover while the
		// operator read it).
		if err := r.set.restorable(ctx); err != nil {
			return err
		}
		if err := r.set.stillMaster(ctx); err != nil {
			return fmt.Errorf("the plan is out of date, plan again: %w", err)
		}
		// Verify before the freeze, so that a long download does not
		// hold the set without failover.
		if err := r.verify(ctx); err != nil {
			return err
		}
		r.set.record = newFreezeStore(r.repo, r.Plan.Target)
		err := restoreIntoSet(ctx, r.set, r.log, 500*time.Millisecond, r.o.Timeout, r.runMaster)
		if err != nil {
			r.a.failed(ctx, r.log, "restore failed", err)
			return err
		}
		r.Plan.Result = "restored"
		r.log.Info("restore succeeded on every node of the Sentinel set", "master", r.set.master.Addr, "replicas", len(r.set.replicas))
		return nil
	}
	if r.repl != nil {
		return r.runReplication(ctx)
	}
	return r.runMaster(ctx)
}

// verify downloads and checks the whole backup.
func (r *Restore) verify(ctx context.Context) error {
	r.log.Info("verifying the backup before changing anything")
	_, err := restore.Fetch(ctx, r.repo, r.Plan.Backup, io.Discard, restore.FetchOptions{Identities: r.o.Identities, SkipRawSHA256: true})
	return err
}

// runMaster restores the pod the plan names: the backup is verified while
// it is staged beside the live data, before Redis stops.
func (r *Restore) runMaster(ctx context.Context) error {
	m, k, log := r.Plan.Backup, r.k, r.log
	in := restore.Install{Dir: r.layout.Dir, DBFilename: r.layout.DBFilename, Size: m.Data.RawSize, SHA256: m.Data.RawSHA256, AOF: r.layout.AOF}
	var ro restore.Rollout
	inPlace := &kube.InPlace{Client: k.kc, Namespace: k.pod.Namespace, Pod: k.pod.Name, Container: k.container,
		Redis: k.client, Version7: r.major >= 7, AOF: r.layout.AOF.Mode != "", AllowSPDY: k.kt.AllowSPDY, Timeout: r.o.Timeout}
	switch r.Plan.Strategy {
	case restore.Offline, restore.Restart:
		o := r.offline()
		if r.Plan.Strategy == restore.Restart {
			o.Restart = inPlace
			o.Fallback = func(reason error) {
				log.Warn("Redis refused to restart in place; scaling the workload instead", "workload", r.workload.String(), "reason", reason.Error())
			}
		}
		ro = o
	default:
		ro = inPlace
	}
	j := restore.Job{
		Install: in,
		Fetch: func(w io.Writer) error {
			_, err := restore.Fetch(ctx, r.repo, m, w, restore.FetchOptions{Identities: r.o.Identities, SkipRawSHA256: true})
			return err
		},
		Down:     restore.DownStep(r.Plan.Strategy),
		Progress: func(s restore.Step) { log.Info("restore step", "step", string(s)) },
	}
	if _, ok := ro.(*kube.Offline); ok {
		// The staging pod runs rdbak: it decodes the backup and checks
		// the RDB's size and SHA-256, so the compressed object, 1.7 to
		// 1.9 times smaller, is what the API server and the kubelet
		// proxy.
		j.Install.Codec, j.FetchSize = m.Data.Compression.Codec, m.Data.StoredSize
		j.Fetch = func(w io.Writer) error {
			return restore.FetchCompressed(ctx, r.repo, m, w, restore.FetchOptions{Identities: r.o.Identities})
		}
	}
	// Without AOF, the in-memory data may be newer than any file (save ""):
	// BGSAVE it before the stop so .pre-restore holds it.
	// Not when the file already holds the data (no write since Redis
	// loaded it or saved it): the BGSAVE would write the same data again,
	// sharing the two cores with the staging.
	if r.layout.AOF.Mode == "" {
		j.Save = func(ctx context.Context) error {
			p, err := k.client.Info(ctx, "persistence")
			if err == nil && diskHoldsData(p.Persistence, fileCtime(ctx, k, r.layout.Dir+"/"+r.layout.DBFilename)) {
				log.Info("Redis's RDB file holds its data (no write since it was saved or loaded): it is kept as "+restore.PreRestoreSuffix+" without a BGSAVE", "file", r.layout.DBFilename)
				return nil
			}
			_, err = backup.Snapshot(ctx, k.client, backup.SnapshotOptions{})
			return err
		}
		j.SaveTakes = saveTakes(ctx, k.client)
	}
	j.Recover = func(ctx context.Context) error { return resumeSaving(ctx, k.client, log) }
	// The downtime ends when Redis serves the restored data, reached
	// afresh (a restarted container or a new pod); the same connection
	// then checks it. In a
	// replication set the selector names the replicas' pods too: reach
	// the master's by name.
	target := r.target
	if r.repl != nil {
		target = pinnedTo(r.target, k.pod.Namespace, k.pod.Name)
	}
	var post *kubeConn
	defer func() {
		if post != nil {
			post.close()
		}
	}()
	j.Loaded = func(ctx context.Context) error {
		var err error
		if post, err = r.a.reachKube(ctx, target, func(*kubeConn) []kube.Permission { return nil }); err != nil {
			return err
		}
		return waitServing(ctx, post.client, 100*time.Millisecond)
	}
	j.Check = func(ctx context.Context) error { return CheckRestored(ctx, post.client, m, 500*time.Millisecond) }
	installed, tm, err := restore.Apply(ctx, ro, j)
	r.Plan.Measured = tm
	if err != nil {
		r.a.failed(ctx, log, "restore failed", err)
		return err
	}
	r.Plan.Result = "restored"
	r.Plan.PreRestore = installed.PreRestore
	log.Info("restore succeeded", "keys", m.Keys(), "pre_restore", strings.Join(installed.PreRestore, ","),
		"total", tm.Total.Round(time.Millisecond).String(), "downtime", tm.Downtime.Round(time.Millisecond).String())
	return nil
}

// resumeSaving makes Redis save again after a restore failed beside it
// (restore.Job.Recover): a BGSAVE that failed while the staged file filled
// its volume left rdb_last_bgsave_status:err, and with save points and
// stop-writes-on-bgsave-error yes (the defaults) Redis refuses every write
// until a save succeeds, which its save points may not retry for an hour.
// With the staged files removed, one BGSAVE clears that. A Redis that no
// longer answers (its pod was replaced, which is also why the restore
// failed) starts afresh: nothing to clear.
func resumeSaving(ctx context.Context, srv backup.Server, log *slog.Logger) error {
	in, err := srv.Info(ctx, "persistence")
	if err != nil {
		log.Debug("Redis does not answer after the failed restore: no save state to clear", "reason", err.Error())
		return nil
	}
	if in.Persistence.LastBGSaveStatus != "err" {
		return nil
	}
	if _, err := backup.Snapshot(ctx, srv, backup.SnapshotOptions{}); err != nil {
		return fmt.Errorf("redis's last BGSAVE failed, so it refuses writes (MISCONF) while it has save points and stop-writes-on-bgsave-error yes, and a BGSAVE with the staged files removed failed too: free space in its dir and run BGSAVE on it: %w", err)
	}
	log.Info("Redis's BGSAVE failed during the restore; it saved again with the staged files removed, and accepts writes")
	return nil
}

// saveTakes is how long a BGSAVE of srv's data is expected to take while
// a restore stages beside it (restore.Job.SaveTakes): the last one's
// length (INFO persistence, whole seconds), rounded up and a quarter more
// for the CPU and disk the staging takes; -1, start at once, when Redis
// has not saved since it started or INFO fails (the save will say why).
func saveTakes(ctx context.Context, srv backup.Server) time.Duration {
	in, err := srv.Info(ctx, "persistence")
	if err != nil || in.Persistence.LastBGSaveTime < 0 {
		return -1
	}
	return time.Duration(in.Persistence.LastBGSaveTime+1) * time.Second * 5 / 4
}

// inspected is what a restore learned from the running Redis.
type inspected struct {
	target restore.TargetInfo
	major  int
	layout restore.Layout
}

// inspect reads the target's version, files and limits over the Redis
// protocol; dir and dbfilename overrides in t win over CONFIG GET.
func inspect(ctx context.Context, k *kubeConn, t *config.Target) (*inspected, error) {
	c := k.client
	in, err := c.Info(ctx, "server", "memory", "replication", "modules")
	if err != nil {
		return nil, err
	}
	s := &inspected{major: in.Server.Major(), target: restore.TargetInfo{
		FreeBytes:    -1,
		RedisVersion: in.Server.Version,
		MaxMemory:    in.Memory.MaxMemory,
		Replicas:     in.Replication.ConnectedSlaves,
		Modules:      in.Modules,
	}}
	if !in.Replication.IsMaster() {
		return nil, fmt.Errorf("pod %s/%s runs a replica (of %s:%s): restore into its master", k.pod.Namespace, k.pod.Name, in.Replication.MasterHost, in.Replication.MasterPort)
	}
	// Valkey reports redis_version 7.2.4; what it loads follows its own
	// version (restore.MaxRDBVersions).
	id := backup.Identify(in.Server)
	s.target.Flavor, s.target.RedisVersion = id.Flavor, id.Version
	if r, v, ok := restore.MaxRDBVersions(id.Flavor, id.Version); ok {
		s.target.MaxRDB, s.target.MaxValkeyRDB = r, v
	} else if s.target.MaxRDB, s.target.MaxValkeyRDB, err = rdbVersionOf(ctx, &redis.PullSource{Addr: k.addr, Username: k.user, Password: k.password, TLS: k.tls}); err != nil {
		return nil, fmt.Errorf("learn which RDB versions %s loads: %w", id, err)
	}
	if s.target.MaxValkeyRDB > 0 {
		// Valkey 9 loads Redis's RDB 12+ only with rdb-version-check relaxed.
		check, err := c.ConfigGet(ctx, "rdb-version-check")
		if err != nil {
			return nil, fmt.Errorf("read rdb-version-check of %s: %w", id, err)
		}
		s.target.RDBVersionCheckRelaxed = check == "relaxed"
	}
	if s.layout, err = layoutOf(ctx, c, t, s.major); err != nil {
		return nil, err
	}
	return s, nil
}

// layoutOf reads where Redis keeps its data and whether it uses AOF.
func layoutOf(ctx context.Context, c backup.Server, t *config.Target, major int) (restore.Layout, error) {
	var l restore.Layout
	get := func(name, override string) (string, error) {
		if override != "" {
			return override, nil
		}
		return c.ConfigGet(ctx, name)
	}
	var err error
	if l.Dir, err = get("dir", t.Dir); err != nil {
		return l, err
	}
	if l.DBFilename, err = get("dbfilename", t.DBFilename); err != nil {
		return l, err
	}
	appendonly, err := c.ConfigGet(ctx, "appendonly")
	if err != nil || appendonly != "yes" {
		return l, err
	}
	l.AOF.Mode = "single"
	if l.AOF.FileName, err = c.ConfigGet(ctx, "appendfilename"); err != nil {
		return l, err
	}
	if major >= 7 {
		l.AOF.Mode = "multipart"
		if l.AOF.DirName, err = c.ConfigGet(ctx, "appenddirname"); err != nil {
			return l, err
		}
	}
	return l, nil
}

// rdbVersionOf asks a server newer than rdbak's tables for the RDB version
// it writes, which is the newest it loads: the header of a replication
// snapshot from src (a replication pull), which it then abandons. A Valkey
// writing its own VALKEY files still loads Redis RDB up to
// restore.ValkeyRedisRDB.
func rdbVersionOf(ctx context.Context, src backup.Source) (redisMax, valkeyMax int, err error) {
	st, err := src.Open(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer st.Body.Close()
	var h [9]byte
	if _, err := io.ReadFull(st.Body, h[:]); err != nil {
		return 0, 0, err
	}
	switch {
	case string(h[:5]) == rdb.MagicRedis:
		redisMax, err = strconv.Atoi(string(h[5:]))
		return redisMax, 0, err
	case string(h[:6]) == rdb.MagicValkey:
		valkeyMax, err = strconv.Atoi(string(h[6:]))
		return restore.ValkeyRedisRDB, valkeyMax, err
	}
	return 0, 0, fmt.Errorf("snapshot starts with %q, neither %s nor %s", h[:], rdb.MagicRedis, rdb.MagicValkey)
}

// diskHoldsData reports whether Redis's RDB file already holds its data,
// so that keeping it as .pre-restore needs no BGSAVE: Redis counts no write
// since its last successful save, or since it loaded the file at startup,
// and the file's inode last changed (ctime, in unix seconds: written,
// renamed or copied over; unlike the mtime, no tool sets it back, not
// kubectl cp) before that save's time, so not behind Redis's back since. A
// change in the same second counts as after. Left out: a dir or dbfilename
// changed with CONFIG SET since, to an older file.
func diskHoldsData(p info.Persistence, ctime int64) bool {
	return p.HasChangesSinceLastSave && p.ChangesSinceLastSave == 0 && p.LastBGSaveStatus == "ok" &&
		p.HasLastSaveTime && ctime >= 0 && ctime < p.LastSaveTime
}

// fileCtime is path's ctime in unix seconds, by stat through exec in the
// Redis container; -1 when it cannot tell (no file, no stat).
func fileCtime(ctx context.Context, k *kubeConn, path string) int64 {
	var out bytes.Buffer
	err := k.kc.Exec(ctx, kube.ExecTarget{Namespace: k.pod.Namespace, Pod: k.pod.Name, Container: k.container, AllowSPDY: k.kt.AllowSPDY},
		[]string{"stat", "-c", "%Z", path}, nil, &out, io.Discard)
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(out.String()), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// aofOnDisk is the path of the AOF in dir (appenddirname on 7.0+, else
// appendfilename) of a Redis running with appendonly no, "" when there is
// none or it cannot tell (restore.TargetInfo.StaleAOF).
func aofOnDisk(ctx context.Context, k *kubeConn, dir string, major int) string {
	param := "appendfilename"
	if major >= 7 {
		param = "appenddirname"
	}
	name, err := k.client.ConfigGet(ctx, param)
	if err != nil || name == "" {
		return ""
	}
	path := dir + "/" + name
	err = k.kc.Exec(ctx, kube.ExecTarget{Namespace: k.pod.Namespace, Pod: k.pod.Name, Container: k.container, AllowSPDY: k.kt.AllowSPDY},
		[]string{"stat", "-c", "%n", path}, nil, io.Discard, io.Discard)
	if err != nil {
		return ""
	}
	return path
}

// freeBytes measures free space in dir with df through exec; -1 when the
// container has no df.
func freeBytes(ctx context.Context, k *kubeConn, dir string) int64 {
	var out bytes.Buffer
	err := k.kc.Exec(ctx, kube.ExecTarget{Namespace: k.pod.Namespace, Pod: k.pod.Name, Container: k.container, AllowSPDY: k.kt.AllowSPDY},
		[]string{"df", "-Pk", dir}, nil, &out, io.Discard)
	if err != nil {
		return -1
	}
	return parseDF(out.String())
}

// parseDF returns the available bytes of `df -Pk`'s last line, -1 when it
// does not parse.
func parseDF(out string) int64 {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 4 {
		return -1
	}
	kb, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		return -1
	}
	return kb * 1024
}

func memoryLimit(p *corev1.Pod, container string) int64 {
	for _, c := range p.Spec.Containers {
		if c.Name == container {
			if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
				return q.Value()
			}
		}
	}
	return 0
}

// sentinelIn says why the pod looks watched by Sentinel: a sentinel
// container beside Redis, as the Bitnami chart runs it; "" when not.
func sentinelIn(p *corev1.Pod) string {
	for _, c := range p.Spec.Containers {
		if strings.Contains(c.Name, "sentinel") || strings.Contains(strings.Join(append(c.Command, c.Args...), " "), "sentinel") {
			return "pod " + p.Name + " runs a Sentinel (container " + c.Name + ")"
		}
	}
	return ""
}

// waitServing polls srv every poll until it answers with its data loaded.
func waitServing(ctx context.Context, srv backup.Server, poll time.Duration) error {
	return kube.Poll(ctx, poll, "Redis to finish loading", func(ctx context.Context) (bool, error) {
		in, err := srv.Info(ctx, "persistence")
		if errors.Is(err, redis.ErrLoading) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		return !in.Persistence.Loading, nil
	})
}

// CheckRestored waits until srv has loaded its data (polling every poll),
// then compares what it loaded with the manifest of the restored backup.
func CheckRestored(ctx context.Context, srv backup.Server, m *storage.Manifest, poll time.Duration) error {
	var loaded *restoredInfo
	err := kube.Poll(ctx, poll, "Redis to finish loading", func(ctx context.Context) (bool, error) {
		in, err := srv.Info(ctx, "persistence", "keyspace")
		if errors.Is(err, redis.ErrLoading) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		loaded = &restoredInfo{in.Persistence.Loading, -1, -1, in.DBKeys()}
		if in.Persistence.HasLastLoad {
			loaded.keys, loaded.expired = in.Persistence.LastLoadKeysLoaded, in.Persistence.LastLoadKeysExpired
		}
		return !loaded.loading, nil
	})
	if err != nil {
		return err
	}
	return restore.CheckLoaded(m, loaded.keys, loaded.expired, loaded.dbs)
}

type restoredInfo struct {
	loading       bool
	keys, expired int64
	dbs           map[int]int64
}

// RestoreRequest names the backup to restore into a Kubernetes target.
type RestoreRequest struct {
	Ref         string    // latest, an id or a prefix; "" with At
	At          time.Time // non-zero: the newest backup at or before it
	FromTarget  string    // whose backups; "" for the target's own
	SkipDamaged bool
	// PasswordFile is the ad hoc target's Redis password file.
	PasswordFile  string
	IdentityFiles []string
}

// source is the target whose backups rr picks from: FromTarget, checked
// as --target is (a path in it would reach into other objects), or own.
func (rr RestoreRequest) source(own string) (string, error) {
	if rr.FromTarget == "" {
		return own, nil
	}
	if err := storage.ValidateTarget(rr.FromTarget); err != nil {
		return "", usagef("--from-target: %w", err)
	}
	return rr.FromTarget, nil
}

// PlanRestoreInto resolves the Kubernetes target of the request and the
// flags, picks the backup from its storage and plans its restore
// (PlanRestore). Close of the result also closes the storage.
func (a *App) PlanRestoreInto(ctx context.Context, r Request, k *KubeFlags, rr RestoreRequest, o RestoreOptions) (*Restore, error) {
	t, url, err := r.RestoreTarget(k, rr.PasswordFile)
	if err != nil {
		return nil, err
	}
	source, err := rr.source(t.Name)
	if err != nil {
		return nil, err
	}
	repo, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		return nil, err
	}
	m, err := Pick(ctx, a.Log, repo, source, rr.Ref, rr.At, rr.SkipDamaged)
	if err == nil && m.Data.Encrypted() {
		// PlanRestore adds the identitySecret after its permission review.
		o.Identities, err = IdentityFiles(t, rr.IdentityFiles)
	}
	var res *Restore
	if err == nil {
		res, err = a.PlanRestore(ctx, repo, m, t, o)
	}
	if err != nil {
		_ = repo.Close()
		return nil, err
	}
	res.closeRepo = true
	return res, nil
}
