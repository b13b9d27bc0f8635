package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
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

// kubeRestoreOpts are the flags of a restore into Kubernetes.
type kubeRestoreOpts struct {
	dryRun, yes   bool
	strategy      string
	image         string
	pullPolicy    string
	overrides     restore.Overrides
	timeout       time.Duration
	asJSON        bool
	confirmInput  io.Reader
	confirmPrompt bool // stdin is a terminal
}

// plan is what a restore into Kubernetes will do, printed by --dry-run and
// before the confirmation.
type plan struct {
	Backup     *storage.Manifest `json:"backup"`
	Target     string            `json:"target"`
	Pod        string            `json:"pod"`
	Workload   string            `json:"workload"`
	Redis      string            `json:"redisVersion"`
	Persist    string            `json:"persistence"`
	Strategy   string            `json:"strategy"`
	DataDir    string            `json:"dataDir"`
	Findings   []restore.Finding `json:"checks"`
	Steps      []string          `json:"steps"`
	Result     string            `json:"result,omitempty"`
	PreRestore []string          `json:"preRestore,omitempty"`
}

// restoreKube restores m into the Redis that t names.
func (g *globals) restoreKube(ctx context.Context, repo *storage.Repo, m *storage.Manifest, t *config.Target, kf *kubeFlags, o kubeRestoreOpts) error {
	k, err := reachKube(ctx, kf.flags, t, func(k *kubeConn) []kube.Permission {
		return kube.BackupPermissions(k.kt.Namespace, k.spec, true, k.access == "port-forward", k.secretNames()...)
	})
	if err != nil {
		return err
	}
	defer k.close()
	log := g.log.With("target", t.Name, "backup_id", m.ID, "pod", k.pod.Namespace+"/"+k.pod.Name)

	srv, err := inspect(ctx, k, t)
	if err != nil {
		return err
	}
	w, err := k.kc.OwnerOf(ctx, k.pod)
	if err != nil {
		return err
	}
	mount := kube.DataVolume(k.pod, k.container, srv.dir)
	strategy, err := chooseStrategy(o.strategy, w, mount, srv)
	if err != nil {
		return err
	}
	if err := k.kc.Check(ctx, kube.RestorePermissions(w, strategy)); err != nil {
		return err
	}
	info := srv.info
	info.FreeBytes = freeBytes(ctx, k, srv.dir)
	info.MemoryLimit = memoryLimit(k.pod, k.container)
	if s := sentinelIn(k.pod); s != "" {
		info.Sentinel = s
	}
	p := &plan{
		Backup: m, Target: t.Name, Pod: k.pod.Namespace + "/" + k.pod.Name, Workload: w.String(),
		Redis: info.RedisVersion, Persist: srv.persistence(), Strategy: strategy, DataDir: srv.dir,
		Findings: restore.Preflight(m, info, o.overrides),
	}
	p.Steps = steps(p, w, srv)
	refused := restore.Refusals(p.Findings)
	if o.dryRun || refused != nil {
		if err := g.printPlan(p, o.asJSON); err != nil {
			return err
		}
		if refused != nil {
			return refused
		}
		return nil
	}
	if !o.asJSON {
		if err := g.printPlan(p, false); err != nil {
			return err
		}
	}
	if !o.yes {
		if err := confirm(o, g.stderr, w.Name); err != nil {
			return err
		}
	}

	// Verify the whole backup before any downtime.
	log.Info("verifying the backup before changing anything")
	if _, err := restore.Fetch(ctx, repo, m, io.Discard, nil); err != nil {
		return err
	}
	in := restore.Install{Dir: srv.dir, DBFilename: srv.dbfilename, Size: m.Data.RawSize, SHA256: m.Data.RawSHA256, AOF: srv.aof}
	// Without AOF, the in-memory data may be newer than any file (save ""):
	// BGSAVE it first so a stop cannot lose it and .pre-restore holds it.
	var save func(context.Context) error
	if srv.aof.Mode == "" {
		save = func(ctx context.Context) error {
			_, err := backup.Snapshot(ctx, k.client, backup.SnapshotOptions{})
			return err
		}
	}
	var ro restore.Rollout
	switch strategy {
	case "offline":
		ro = &kube.Offline{Client: k.kc, Workload: w, Pod: k.pod, Mount: mount, Image: o.image,
			PullPolicy: corev1.PullPolicy(o.pullPolicy), AllowSPDY: k.kt.AllowSPDY, Timeout: o.timeout, Save: save}
	default:
		ro = &kube.InPlace{Client: k.kc, Namespace: k.pod.Namespace, Pod: k.pod.Name, Container: k.container,
			Redis: k.client, Version7: srv.major >= 7, AllowSPDY: k.kt.AllowSPDY, Timeout: o.timeout, Save: save}
	}
	fetch := func(w io.Writer) error {
		_, err := restore.Fetch(ctx, repo, m, w, nil)
		return err
	}
	check := func(ctx context.Context) error { return postCheck(ctx, kf, t, m) }
	installed, err := restore.Apply(ctx, ro, in, fetch, check, func(s restore.Step) { log.Info("restore step", "step", string(s)) })
	if err != nil {
		log.Error("restore failed", "error", err.Error())
		return err
	}
	p.Result = "restored"
	p.PreRestore = installed.PreRestore
	log.Info("restore succeeded", "keys", m.Keys(), "pre_restore", strings.Join(installed.PreRestore, ","))
	if o.asJSON {
		return writeJSON(g.stdout, p)
	}
	_, err = fmt.Fprintf(g.stdout, "restored %s/%s into %s; the previous data is kept as %s\n", m.Target, m.ID, p.Pod, strings.Join(installed.PreRestore, ", "))
	return err
}

// server is what restore learned from the running Redis.
type server struct {
	info            restore.TargetInfo
	major           int
	dir, dbfilename string
	aof             restore.AOF
}

func (s *server) persistence() string {
	switch s.aof.Mode {
	case "multipart":
		return "appendonly yes (multi-part AOF in " + s.aof.DirName + ")"
	case "single":
		return "appendonly yes (" + s.aof.FileName + ")"
	}
	return "RDB (" + s.dbfilename + ")"
}

// inspect reads the target's version, files and limits over the Redis
// protocol; dir and dbfilename overrides in t win over CONFIG GET.
func inspect(ctx context.Context, k *kubeConn, t *config.Target) (*server, error) {
	c := k.client
	s := &server{info: restore.TargetInfo{FreeBytes: -1}}
	kv, err := c.Info(ctx, "server")
	if err != nil {
		return nil, fmt.Errorf("read INFO server: %w", err)
	}
	s.info.RedisVersion = kv["redis_version"]
	s.major, _ = strconv.Atoi(strings.SplitN(s.info.RedisVersion, ".", 2)[0])
	if v, ok := restore.MaxRDBVersion(s.info.RedisVersion); ok {
		s.info.MaxRDB = v
	} else if s.info.MaxRDB, err = rdbVersionOf(ctx, k); err != nil {
		return nil, fmt.Errorf("learn which RDB versions Redis %s loads: %w", s.info.RedisVersion, err)
	}
	get := func(name, override string) (string, error) {
		if override != "" {
			return override, nil
		}
		return c.ConfigGet(ctx, name)
	}
	if s.dir, err = get("dir", t.Dir); err != nil {
		return nil, err
	}
	if s.dbfilename, err = get("dbfilename", t.DBFilename); err != nil {
		return nil, err
	}
	appendonly, err := c.ConfigGet(ctx, "appendonly")
	if err != nil {
		return nil, err
	}
	if appendonly == "yes" {
		s.aof.Mode = "single"
		if s.aof.FileName, err = c.ConfigGet(ctx, "appendfilename"); err != nil {
			return nil, err
		}
		if s.major >= 7 {
			s.aof.Mode = "multipart"
			if s.aof.DirName, err = c.ConfigGet(ctx, "appenddirname"); err != nil {
				return nil, err
			}
		}
	}
	if mem, err := c.Info(ctx, "memory"); err == nil {
		s.info.MaxMemory, _ = strconv.ParseInt(mem["maxmemory"], 10, 64)
	}
	repl, err := c.Info(ctx, "replication")
	if err != nil {
		return nil, fmt.Errorf("read INFO replication: %w", err)
	}
	s.info.Replicas, _ = strconv.Atoi(repl["connected_slaves"])
	if repl["role"] != "master" {
		return nil, fmt.Errorf("pod %s/%s runs a replica (of %s:%s): restore into its master", k.pod.Namespace, k.pod.Name, repl["master_host"], repl["master_port"])
	}
	if mods, err := c.Info(ctx, "modules"); err == nil {
		for key, v := range mods {
			if strings.HasPrefix(key, "module") {
				if name, ok := strings.CutPrefix(strings.SplitN(v, ",", 2)[0], "name="); ok {
					s.info.Modules = append(s.info.Modules, name)
				}
			}
		}
	}
	return s, nil
}

// rdbVersionOf asks a Redis newer than rdbak's table for the RDB version
// it writes, which is the newest it loads: the header of a replication
// snapshot.
func rdbVersionOf(ctx context.Context, k *kubeConn) (int, error) {
	st, err := (&redis.PullSource{Addr: k.addr, Username: k.user, Password: k.password, TLS: k.tls}).Open(ctx)
	if err != nil {
		return 0, err
	}
	defer st.Body.Close()
	var h [9]byte
	if _, err := io.ReadFull(st.Body, h[:]); err != nil {
		return 0, err
	}
	if string(h[:5]) != "REDIS" {
		return 0, fmt.Errorf("snapshot starts with %q, not REDIS", h[:5])
	}
	return strconv.Atoi(string(h[5:]))
}

// chooseStrategy picks offline for a single-replica workload whose data
// is on a volume another pod can mount, and in-place for data that
// survives only a container restart.
func chooseStrategy(asked string, w *kube.Workload, mount *kube.DataMount, s *server) (string, error) {
	if mount == nil {
		return "", fmt.Errorf("%w: Redis's dir %s is not on a volume: its data is lost at every restart, so there is nothing to restore into (give the workload a PersistentVolumeClaim or emptyDir)", restore.ErrRefused, s.dir)
	}
	persistent := mount.Volume.EmptyDir == nil
	offlineOK := persistent && w.Kind != "" && w.Replicas == 1
	why := ""
	switch {
	case !persistent:
		why = "the data is on an emptyDir, which a new pod would not get back"
	case w.Kind == "":
		why = "the pod has no StatefulSet or Deployment to scale"
	case w.Replicas != 1:
		why = fmt.Sprintf("%s has %d replicas", w, w.Replicas)
	}
	switch asked {
	case "", "auto":
		if offlineOK {
			return "offline", nil
		}
		if w.Replicas > 1 {
			return "", fmt.Errorf("%w: %s has %d replicas, each with its own data; restore one pod with --pod or scale it to 1 first", restore.ErrRefused, w, w.Replicas)
		}
		asked = "in-place"
	case "offline":
		if !offlineOK {
			return "", usagef("--strategy offline: %s", why)
		}
		return "offline", nil
	case "in-place":
	default:
		return "", usagef("--strategy %q: use offline or in-place", asked)
	}
	if s.aof.Mode != "" {
		return "", fmt.Errorf("%w: in-place restore with appendonly yes is not supported (%s): use a PVC and --strategy offline", restore.ErrRefused, why)
	}
	return "in-place", nil
}

func steps(p *plan, w *kube.Workload, s *server) []string {
	target := s.dir + "/" + s.dbfilename
	install := "write " + target + restore.TempSuffix + ", check its length and SHA-256, keep the current file as " + target + restore.PreRestoreSuffix + ", rename the new one into place"
	switch s.aof.Mode {
	case "multipart":
		install += "; set " + s.dir + "/" + s.aof.DirName + " aside and install the RDB as the base of a new AOF manifest"
	case "single":
		install += "; install the RDB as " + s.dir + "/" + s.aof.FileName
	}
	verify := "download and verify backup " + p.Backup.ID + " completely (sizes, SHA-256, RDB CRC-64) before any change"
	check := "wait until Redis has loaded the data and compare its key counts with the manifest"
	if p.Strategy == "offline" {
		return []string{verify,
			saveStep(s),
			fmt.Sprintf("scale %s from %d to 0 and wait until its pod is gone (annotated %s)", w, w.Replicas, kube.RestoreReplicasAnnotation),
			"run a restore pod with the rdbak image that mounts the same volume and stream the verified backup into it",
			install,
			fmt.Sprintf("delete the restore pod, scale %s back to %d and wait until it is Ready", w, w.Replicas),
			check}
	}
	return []string{verify,
		saveStep(s),
		`turn off every save in Redis (CONFIG SET save "", and shutdown-on-sigterm nosave on 7.0+)`,
		"stream the verified backup into the Redis container through exec",
		install,
		"make Redis exit without saving (SHUTDOWN NOSAVE) so the kubelet restarts it on the restored file; wait until it is Ready",
		check}
}

func saveStep(s *server) string {
	if s.aof.Mode != "" {
		return "AOF is on: Redis keeps the current data in its AOF, which is set aside as " + restore.PreRestoreSuffix
	}
	return "BGSAVE the current data, so it survives the stop and is kept as " + s.dbfilename + restore.PreRestoreSuffix
}

func (g *globals) printPlan(p *plan, asJSON bool) error {
	if asJSON {
		return writeJSON(g.stdout, p)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Restore plan\n  backup:      %s/%s (%s, %d keys, RDB v%d, Redis %s)\n", p.Backup.Target, p.Backup.ID,
		p.Backup.Created.UTC().Format(time.RFC3339), p.Backup.Keys(), p.Backup.RDB.Version, orDash(p.Backup.Redis.Version))
	fmt.Fprintf(&b, "  into:        %s (%s), Redis %s, %s\n  strategy:    %s\n  checks:\n", p.Pod, p.Workload, p.Redis, p.Persist, p.Strategy)
	for _, f := range p.Findings {
		mark := "ok     "
		if f.Refuse {
			mark = "REFUSED"
		}
		fmt.Fprintf(&b, "    %s %s: %s\n", mark, f.Check, f.Detail)
	}
	b.WriteString("  steps:\n")
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "    %d. %s\n", i+1, s)
	}
	_, err := io.WriteString(g.stdout, b.String())
	return err
}

// confirm asks on a terminal for the workload's name; elsewhere --yes is
// required.
func confirm(o kubeRestoreOpts, w io.Writer, name string) error {
	if !o.confirmPrompt {
		return usagef("this replaces the data of a running Redis: pass --yes to confirm (see the plan above, or --dry-run)")
	}
	fmt.Fprintf(w, "Type %q to replace its data: ", name)
	line, _ := bufio.NewReader(o.confirmInput).ReadString('\n')
	if strings.TrimSpace(line) != name {
		return errors.New("not confirmed; nothing was changed")
	}
	return nil
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
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
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
// container beside Redis, as the Bitnami chart runs it.
func sentinelIn(p *corev1.Pod) string {
	for _, c := range p.Spec.Containers {
		if strings.Contains(c.Name, "sentinel") || strings.Contains(strings.Join(append(c.Command, c.Args...), " "), "sentinel") {
			return "pod " + p.Name + " runs a Sentinel (container " + c.Name + ")"
		}
	}
	return ""
}

// postCheck reaches the restored Redis afresh, waits until it has loaded,
// and compares what it loaded with the manifest.
func postCheck(ctx context.Context, kf *kubeFlags, t *config.Target, m *storage.Manifest) error {
	k, err := reachKube(ctx, kf.flags, t, func(*kubeConn) []kube.Permission { return nil })
	if err != nil {
		return err
	}
	defer k.close()
	var p map[string]string
	err = kube.Poll(ctx, 500*time.Millisecond, "Redis to finish loading", func(ctx context.Context) (bool, error) {
		p, err = k.client.Info(ctx, "persistence")
		if err != nil {
			if strings.Contains(err.Error(), "LOADING") {
				return false, nil
			}
			return false, err
		}
		return p["loading"] == "0", nil
	})
	if err != nil {
		return err
	}
	loaded, expired := int64(-1), int64(-1)
	if v, ok := p["rdb_last_load_keys_loaded"]; ok {
		loaded, _ = strconv.ParseInt(v, 10, 64)
		expired, _ = strconv.ParseInt(p["rdb_last_load_keys_expired"], 10, 64)
	}
	keys := map[int]int64{}
	if ks, err := k.client.Info(ctx, "keyspace"); err == nil {
		for db, v := range ks {
			n, err := strconv.Atoi(strings.TrimPrefix(db, "db"))
			if err != nil {
				continue
			}
			c, _ := strconv.ParseInt(strings.TrimPrefix(strings.SplitN(v, ",", 2)[0], "keys="), 10, 64)
			keys[n] = c
		}
	}
	return restore.CheckLoaded(m, loaded, expired, keys)
}

// stdinIsTerminal reports whether a confirmation can be asked.
func stdinIsTerminal() bool { return isTerminal(os.Stdin) }
