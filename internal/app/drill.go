package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/scratch"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// DrillOptions tunes Drill.
type DrillOptions struct {
	// Servers are scratch server binaries to consider besides the
	// target's drill.servers and those on PATH (--redis-server).
	Servers []string
	// Identities decrypt an encrypted backup.
	Identities *crypt.Identities
	// Poll is how often the scratch server is asked whether it has
	// loaded; default 100ms.
	Poll time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// scratchFile is the RDB's name in the scratch directory.
const scratchFile = "dump.rdb"

// Drill restores backup m of target t into a scratch server on this host,
// never the target's own Redis: it verifies the backup as a restore does
// (restore.ToFile), counts its keys by db, type and expire time, starts a
// compatible redis-server or valkey-server on the file with persistence
// off, waits until it has loaded, compares what it holds with the backup
// (drill.CompareData) and runs the target's read-only checks. The scratch
// server is killed and its directory removed whatever happens. The verdict
// is stored beside the backup as a new drill record, recorded as a
// Kubernetes Event for targets in Kubernetes, and logged.
//
// It returns the record (nil only when none could be made) and an error:
// one wrapping drill.ErrFailed when the drill ran and failed; another when
// storage or this host failed it (also recorded, when possible). An
// encrypted backup without o.Identities is not drilled and not recorded:
// the error wraps restore.ErrNeedIdentity (a usage error). One that no
// identity of o.Identities decrypts fails its drill: a backup nobody can
// decrypt does not restore.
func (a *App) Drill(ctx context.Context, repo *storage.Repo, m *storage.Manifest, t *config.Target, o DrillOptions) (*drill.Record, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if err := restore.CheckDecryptable(m, o.Identities); err != nil {
		// Not the backup's fault: nothing is drilled, so nothing is
		// recorded against it.
		return nil, fmt.Errorf("drill of %s/%s: no drill ran and none is recorded: %w", t.Name, m.ID, err)
	}
	log := a.Log.With("target", t.Name, "backup_id", m.ID)
	rec := &drill.Record{Target: t.Name, BackupID: m.ID, Started: now().UTC(), Rdbak: a.Version}
	timeout := t.Drill.TimeoutOrDefault()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	log.Info("drill started", "storage", repo.String())
	runErr := a.drillParts(dctx, repo, m, t, o, now, rec)
	if runErr != nil && dctx.Err() != nil && ctx.Err() == nil {
		runErr = fmt.Errorf("%w: the drill did not finish within drill.timeout %s: %w", drill.ErrFailed, timeout, runErr)
		rec.Reason = strings.TrimPrefix(runErr.Error(), drill.ErrFailed.Error()+": ")
	}
	rec.Finish(now().UTC()) // the reason is the first failed check's
	if ctx.Err() != nil {
		// Interrupted: nothing was judged, so nothing is recorded.
		return rec, fmt.Errorf("drill of %s/%s: %w", t.Name, m.ID, context.Cause(ctx))
	}
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer scancel()
	_, saveErr := drill.Save(sctx, repo, m, rec)
	a.drillOutcome(sctx, log, t, rec)
	if !rec.OK() {
		a.notifier().Notify(sctx, log, t, EventDrillFailed, m.ID, errors.New(rec.Reason))
	}
	err := rec.Err()
	if runErr != nil && !errors.Is(runErr, drill.ErrFailed) {
		err = fmt.Errorf("drill of %s/%s: %w", t.Name, m.ID, runErr)
	}
	if saveErr != nil {
		err = errors.Join(err, fmt.Errorf("store the drill record: %w", saveErr))
		log.Log(ctx, failureLevel(a.CallerReports), "drill record not stored", "error", saveErr.Error())
	}
	return rec, err
}

// drillParts drills m, or each shard of a cluster backup set in turn (each
// is one RDB, loaded alone into its own scratch server), with the shard
// named in each of its checks; the first failing shard ends the drill.
func (a *App) drillParts(ctx context.Context, repo *storage.Repo, m *storage.Manifest, t *config.Target, o DrillOptions, now func() time.Time, rec *drill.Record) error {
	if !m.IsSet() {
		return a.runDrill(ctx, repo, m, t, o, now, rec)
	}
	for i, p := range m.Parts() {
		from := len(rec.Checks)
		err := a.runDrill(ctx, repo, p, t, o, now, rec)
		for j := from; j < len(rec.Checks); j++ {
			rec.Checks[j].Detail = fmt.Sprintf("shard %d (%s): %s", i, p.Data.Name, rec.Checks[j].Detail)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// runDrill does the drill's work, appending checks to rec. A returned
// error that does not wrap drill.ErrFailed is not the backup's fault.
func (a *App) runDrill(ctx context.Context, repo *storage.Repo, m *storage.Manifest, t *config.Target, o DrillOptions, now func() time.Time, rec *drill.Record) error {
	fail := func(name string, err error) error {
		detail := strings.TrimPrefix(err.Error(), drill.ErrFailed.Error()+": ")
		rec.Checks = append(rec.Checks, drill.Check{Name: name, Detail: detail})
		if errors.Is(err, restore.ErrVerify) || errors.Is(err, storage.ErrDamaged) || errors.Is(err, drill.ErrFailed) {
			return fmt.Errorf("%w: %s: %s", drill.ErrFailed, name, detail)
		}
		return err
	}
	var modules []string // what the scratch server loads
	// loadFail fails the load, naming the module at fault when the
	// scratch server's log says one is.
	loadFail := func(err error) error { return fail("load", drill.ModuleFailure(err, modules, m.RDB.Modules)) }
	runner := t.Drill.RunnerOrDefault()
	var (
		bin     drill.Server
		why     string
		podPlan *drillPodPlan
		err     error
	)
	if runner != config.RunnerPod {
		var candidates []drill.Server
		if candidates, err = scratch.Find(ctx, append(slices.Clone(t.Drill.Servers), o.Servers...)); err == nil {
			bin, why, err = drill.Choose(m, candidates)
		}
		if err != nil && (runner == config.RunnerLocal || t.Kubernetes == nil || a.Kube == nil) {
			return fail("scratch-server", err)
		}
		if err != nil {
			a.Log.Info("no compatible scratch server on this host: the drill runs in a scratch pod", "target", t.Name, "reason", err.Error())
			runner = config.RunnerPod
		}
	}
	if runner == config.RunnerPod {
		if podPlan, err = a.planDrillPod(ctx, t, m); err != nil {
			return fail("scratch-server", err)
		}
		modules = podPlan.modules
		rec.Scratch = drill.Scratch{Kind: "pod", Server: drill.Server{Image: podPlan.pod.Spec.Containers[0].Image}}
		rec.Checks = append(rec.Checks, drill.Check{Name: "scratch-server", OK: true, Detail: fmt.Sprintf(
			"a scratch pod in namespace %s running image %s of pod %s", podPlan.pod.Namespace, rec.Scratch.Image, podPlan.from)})
	} else {
		rec.Scratch = drill.Scratch{Kind: "local", Server: bin}
		rec.Checks = append(rec.Checks, drill.Check{Name: "scratch-server", OK: true, Detail: fmt.Sprintf("%s (%s): %s", bin, bin.Path, why)})
	}

	dir, release, err := scratch.TempDir()
	if err != nil {
		return fail("scratch-server", err)
	}
	defer release()
	file := filepath.Join(dir, scratchFile)
	rep, err := restore.ToFile(ctx, repo, m, file, restore.FileOptions{Identities: o.Identities})
	if err != nil {
		return fail("verify", err)
	}
	rec.Checks = append(rec.Checks, drill.Check{Name: "verify", OK: true, Detail: fmt.Sprintf(
		"%d bytes stored, %d bytes RDB: sizes, SHA-256, structure and CRC-64 match the manifest", rep.StoredSize, rep.RawSize)})

	census, err := takeCensus(file, now(), rec.Started.Add(t.Drill.TimeoutOrDefault()))
	if err != nil {
		return fail("verify", err)
	}
	obs := drill.Observed{Started: now(), Loaded: -1, Expired: -1}
	var (
		srv    scratchServer
		client *redis.Client
	)
	if podPlan != nil {
		ps, err := a.startDrillPod(ctx, podPlan, file, t)
		if ps != nil {
			defer ps.stop()
		}
		if err != nil {
			return loadFail(err)
		}
		srv = ps
		client = redis.New(redis.Options{Addr: ps.fwd.Addr})
	} else {
		local, err := scratch.StartLocal(ctx, bin, dir, scratch.Options{DBFilename: scratchFile, Databases: databases(m)})
		if err != nil {
			return loadFail(fmt.Errorf("%w: %w", drill.ErrFailed, err))
		}
		defer local.Stop()
		srv = local
		client = redis.New(redis.Options{Addr: local.Addr, Password: local.Password})
	}
	defer client.Close()
	if err := waitLoaded(ctx, client, srv, o.Poll); err != nil {
		return loadFail(err)
	}
	if err := observe(ctx, client, m, &obs); err != nil {
		if exit := srv.ExitError(); exit != nil {
			return loadFail(fmt.Errorf("%w: %w", drill.ErrFailed, exit))
		}
		return fail("observe", err)
	}
	if podPlan != nil {
		if in, err := client.Info(ctx, "server"); err == nil {
			rec.Scratch.Version, rec.Scratch.Flavor = in.Server.Version, storage.FlavorRedis
			if in.Server.ValkeyVersion != "" {
				rec.Scratch.Version, rec.Scratch.Flavor = in.Server.ValkeyVersion, storage.FlavorValkey
			}
			bin = rec.Scratch.Server
		}
	}
	obs.Ended = now()
	if obs.Loaded < 0 { // no load counters (before 7.0) for CompareData to judge
		rec.Checks = append(rec.Checks, drill.Check{Name: "load", OK: true, Detail: fmt.Sprintf("%s loaded the backup", bin)})
	}
	rec.Checks = append(rec.Checks, drill.CompareData(m, census, obs)...)
	for _, u := range t.Drill.UserChecks() {
		words, err := drill.ParseCommand(u.Command)
		if err != nil {
			rec.Checks = append(rec.Checks, drill.Judge(u, nil, err))
			continue
		}
		reply, err := client.Run(ctx, u.DB, words)
		rec.Checks = append(rec.Checks, drill.Judge(u, reply, err))
	}
	if exit := srv.ExitError(); exit != nil {
		return loadFail(fmt.Errorf("%w: %w", drill.ErrFailed, exit))
	}
	return nil
}

// takeCensus counts the restored file's keys by db, kind and expire time.
// A file whose structure this rdbak does not parse gives an empty census
// (CompareData then compares nothing: the manifest has no counts either).
func takeCensus(file string, from, to time.Time) (*drill.Census, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read the restored file: %w", err)
	}
	defer f.Close()
	c := drill.NewCensus(from, to)
	info, err := rdb.Walk(f, func(k rdb.Key) { c.Add(k.DB, k.Kind, k.Expires, k.ExpireMs) })
	if err != nil {
		return nil, fmt.Errorf("%w: the restored file no longer parses: %w", restore.ErrVerify, err)
	}
	if info.Unparsed != "" {
		return drill.NewCensus(from, to), nil
	}
	return c, nil
}

// databases is the databases setting the scratch server needs for m.
func databases(m *storage.Manifest) int {
	n := 16
	for _, db := range m.RDB.DBs {
		n = max(n, db.Index+1)
	}
	return n
}

// scratchServer is a drill's running scratch server: local or in a pod.
type scratchServer interface {
	// Exited is closed when the server has exited.
	Exited() <-chan struct{}
	// ExitError says how it exited (with the end of its log); nil while
	// it runs.
	ExitError() error
}

// waitLoaded polls the scratch server until it has loaded its file. Its
// exit while loading (a version it cannot load, a missing module, a
// damaged file) fails the drill with the end of its log.
func waitLoaded(ctx context.Context, c *redis.Client, srv scratchServer, poll time.Duration) error {
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	for {
		in, err := c.Info(ctx, "persistence")
		switch {
		case err == nil && !in.Persistence.Loading:
			return nil
		case err != nil && !errors.Is(err, redis.ErrLoading):
			// A server that stopped answering is most likely exiting:
			// its log says why.
			select {
			case <-srv.Exited():
				return fmt.Errorf("%w: %w", drill.ErrFailed, srv.ExitError())
			case <-time.After(2 * time.Second):
			}
			return fmt.Errorf("ask the scratch server whether it has loaded: %w", err)
		}
		select {
		case <-srv.Exited():
			return fmt.Errorf("%w: %w", drill.ErrFailed, srv.ExitError())
		case <-ctx.Done():
			return fmt.Errorf("wait for the scratch server to load: %w", context.Cause(ctx))
		case <-time.After(poll):
		}
	}
}

// observe reads what the scratch server loaded: the load counters, INFO
// keyspace and the keys by type of every db the backup or the server has.
func observe(ctx context.Context, c *redis.Client, m *storage.Manifest, o *drill.Observed) error {
	in, err := c.Info(ctx, "persistence", "keyspace")
	if err != nil {
		return err
	}
	if in.Persistence.HasLastLoad {
		o.Loaded, o.Expired = in.Persistence.LastLoadKeysLoaded, in.Persistence.LastLoadKeysExpired
	}
	o.DBs = map[int]drill.ObservedDB{}
	for _, db := range in.Keyspace {
		o.DBs[db.Index] = drill.ObservedDB{Keys: db.Keys, Expires: db.Expires}
	}
	dbs := map[int]bool{}
	for _, db := range m.RDB.DBs {
		dbs[db.Index] = true
	}
	for idx := range o.DBs {
		dbs[idx] = true
	}
	for _, idx := range slices.Sorted(maps.Keys(dbs)) {
		kinds, err := c.KindCounts(ctx, idx)
		if err != nil {
			return err
		}
		d := o.DBs[idx]
		d.Kinds = kinds
		o.DBs[idx] = d
	}
	return nil
}

// drillOutcome logs the verdict and records it as an Event on the
// target's workload when it is in Kubernetes.
func (a *App) drillOutcome(ctx context.Context, log *slog.Logger, t *config.Target, rec *drill.Record) {
	if rec.OK() {
		log.Info("drill succeeded", "scratch", rec.Scratch.Server.String(), "seconds", rec.DurationSeconds, "record", rec.Name)
		a.recordTargetEvent(ctx, log, t, kube.ReasonDrillSucceeded, fmt.Sprintf("drill of backup %s of %s succeeded on %s in %.1fs",
			rec.BackupID, t.Name, rec.Scratch.Server, rec.DurationSeconds), false)
		return
	}
	log.Log(ctx, failureLevel(a.CallerReports), "drill failed", "reason", rec.Reason, "seconds", rec.DurationSeconds, "record", rec.Name)
	a.recordTargetEvent(ctx, log, t, kube.ReasonDrillFailed, fmt.Sprintf("drill of backup %s of %s failed: %s", rec.BackupID, t.Name, rec.Reason), true)
}

// recordTargetEvent records an Event on the workload of a target in
// Kubernetes. It finds the workload through the API server only: a drill,
// or the daemon watching a backup Job, never connects to the target's
// Redis.
func (a *App) recordTargetEvent(ctx context.Context, log *slog.Logger, t *config.Target, reason, msg string, warning bool) {
	if t.Kubernetes == nil || a.Kube == nil {
		return
	}
	kc, err := a.Kube.Client()
	if err != nil {
		log.Warn("could not record a Kubernetes event", "error", err.Error())
		return
	}
	spec := SpecOf(t.Kubernetes)
	if spec.Namespace == "" {
		if spec.Namespace, err = a.Kube.Namespace(); err != nil {
			log.Warn("could not record a Kubernetes event", "error", err.Error())
			return
		}
	}
	recordWorkloadEvent(ctx, log, kc, spec, reason, msg, warning)
}

// recordWorkloadEvent records an Event on the workload spec names, found
// from one of its Ready pods. Best effort, as record.
func recordWorkloadEvent(ctx context.Context, log *slog.Logger, kc *kube.Client, spec kube.Spec, reason, msg string, warning bool) {
	pods, err := kc.Candidates(ctx, spec)
	if err != nil || len(pods) == 0 {
		log.Warn("could not record a Kubernetes event: no pod of the target found", "error", fmt.Sprint(err))
		return
	}
	rec, err := kc.RecorderFor(ctx, spec, &pods[0])
	if err != nil {
		log.Warn("could not record a Kubernetes event", "error", err.Error())
		return
	}
	record(ctx, log, rec, reason, msg, warning)
}

// DrillSummary is the last drill of a target or a backup, for status and
// list.
type DrillSummary struct {
	Time     time.Time `json:"time"`
	BackupID string    `json:"backupId"`
	Result   string    `json:"result"`
	Reason   string    `json:"reason,omitempty"`
}

func summary(r *drill.Record) *DrillSummary {
	return &DrillSummary{Time: r.Started, BackupID: r.BackupID, Result: r.Result, Reason: r.Reason}
}

// LastDrill returns target's newest drill record as a summary, nil when
// it has none.
func LastDrill(ctx context.Context, repo *storage.Repo, target string) (*DrillSummary, error) {
	r, err := drill.Latest(ctx, repo, target, false)
	if err != nil || r == nil {
		return nil, err
	}
	return summary(r), nil
}

// LastDrills returns the newest drill of each backup of target (all
// targets when ""), keyed by target/id.
func LastDrills(ctx context.Context, repo *storage.Repo, target string) (map[string]*DrillSummary, error) {
	refs, err := repo.DrillRecords(ctx, target, "")
	if err != nil {
		return nil, err
	}
	newest := map[string]storage.RecordRef{}
	for _, ref := range refs { // oldest first: the last one wins
		newest[ref.Target+"/"+ref.ID] = ref
	}
	out := map[string]*DrillSummary{}
	for k, ref := range newest {
		rs, err := drill.Load(ctx, repo, []storage.RecordRef{ref})
		if err != nil {
			return nil, err
		}
		out[k] = summary(&rs[0])
	}
	return out, nil
}

// Drills returns every drill record of backup m, oldest first.
func Drills(ctx context.Context, repo *storage.Repo, m *storage.Manifest) ([]drill.Record, error) {
	refs, err := repo.DrillRecords(ctx, m.Target, m.ID)
	if err != nil {
		return nil, err
	}
	return drill.Load(ctx, repo, refs)
}

// ScheduledDrill is the daemon's drill of one target (daemon.DrillFunc):
// Drill of its latest backup, with the identity of its config. With no
// backup to drill (none yet, or the newest one damaged) or no identity for
// an encrypted one there is no record; the error is logged, recorded as a
// DrillFailed Event, notified and returned (the daemon counts it as a
// failed drill).
func (a *App) ScheduledDrill(ctx context.Context, _ *config.File, t *config.Target, repo *storage.Repo) (*drill.Record, error) {
	log := a.Log.With("target", t.Name)
	fail := func(err error) (*drill.Record, error) {
		log.Log(ctx, failureLevel(a.CallerReports), "drill failed", "error", err.Error())
		a.recordTargetEvent(ctx, log, t, kube.ReasonDrillFailed, fmt.Sprintf("drill of %s failed: %v", t.Name, err), true)
		a.notifier().Notify(ctx, log, t, EventDrillFailed, "", err)
		return nil, err
	}
	sel, err := repo.Resolve(ctx, t.Name, "latest", storage.ResolveOptions{})
	if err != nil {
		return fail(fmt.Errorf("find the latest backup of %s to drill: %w", t.Name, err))
	}
	var ids *crypt.Identities
	if sel.Manifest.Data.Encrypted() {
		if ids, err = a.targetIdentities(ctx, t, nil); err != nil {
			return fail(err)
		}
		if ids.Len() == 0 {
			return fail(fmt.Errorf("%w: backup %s of %s is encrypted and the target has no identity to decrypt it: set encryption.identityFile or encryption.identitySecret of target %q (or under defaults:)",
				restore.ErrNeedIdentity, sel.Manifest.ID, t.Name, t.Name))
		}
	}
	return a.Drill(ctx, repo, sel.Manifest, t, DrillOptions{Identities: ids})
}
