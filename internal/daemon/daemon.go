package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/schedule"
	"github.com/rdbak/rdbak/storage"
)

// Config is what the daemon runs: one loaded config file, in typed form.
// The application layer builds it (Options.Load), so the file's shape
// stops there.
type Config struct {
	Targets []Target
	// Listen is the address of /metrics, /healthz and /readyz (unless
	// Options.Listen or Options.Listener replaces it).
	Listen string
	// Concurrency bounds the backups at once over all targets.
	Concurrency int
	// ShutdownGrace is how long backups in flight may finish on shutdown.
	ShutdownGrace time.Duration
	// LeaderElection, when enabled, lets only the Lease holder schedule.
	LeaderElection LeaderElection
	// Warnings are logged when the config is loaded.
	Warnings []string
}

// LeaderElection configures the Lease that decides which replica leads.
type LeaderElection struct {
	Enabled                                   bool
	Namespace, Name                           string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Target is one target as the daemon runs it.
type Target struct {
	Name string
	// Storage is the URL of its repository; targets with the same URL
	// share one opened repository.
	Storage string
	// Schedule says when to back it up; a zero Spec leaves it to rdbak now.
	Schedule schedule.Spec
	Jitter   time.Duration
	// Backup takes one backup into repo, exactly as rdbak now does: it
	// bounds the backup by the target's timeout, logs one line with the
	// outcome and returns the committed backup. A cancelled ctx aborts the
	// backup and leaves no manifest.
	Backup func(ctx context.Context, repo *storage.Repo) (*backup.Result, error)
	// After runs what follows a committed backup (heartbeat, retention,
	// orphans older than the grace period at now), logging its own
	// failures; the daemon counts them.
	After func(ctx context.Context, repo *storage.Repo, now time.Time) Aftermath
	// DrillSchedule says when to drill its latest backup; a zero Spec (or
	// a nil Drill) means no scheduled drills.
	DrillSchedule schedule.Spec
	// Drill drills the target's latest backup in repo, exactly as rdbak
	// drill does: it bounds the drill by its timeout, stores the record,
	// records the Event and logs the outcome. The record is nil when no
	// drill could start (no backup to drill).
	Drill func(ctx context.Context, repo *storage.Repo) (*drill.Record, error)
}

// drillJob prefixes the scheduler's job names of drills; target names
// cannot contain a slash.
const drillJob = "drill/"

// Aftermath is what followed a backup, as the metrics count it.
type Aftermath struct {
	HeartbeatFailed bool
	// PruneFailed: retention or orphan collection failed.
	PruneFailed    bool
	PrunedBackups  int
	DeletedOrphans int
}

// Elector decides which of several daemon replicas schedules backups.
type Elector interface {
	// Run campaigns until ctx is done. While this replica leads, it calls
	// lead with a context that is done when leadership is lost or ctx is
	// done; once ctx is done it keeps the lease until lead has returned,
	// then releases it.
	Run(ctx context.Context, lead func(ctx context.Context)) error
	// Leader returns the identity of the current leader, "" if unknown.
	Leader() string
}

// ErrNoSchedule means no target of the config has a schedule: the daemon
// would have nothing to do.
var ErrNoSchedule = errors.New("no target has a schedule: set defaults.schedule or a target's schedule, e.g. schedule: \"@daily\"")

// Options configures Run.
type Options struct {
	ConfigPath string
	// Load turns the config file's content into what the daemon runs; it
	// fails for a config that does not validate. It is called at start
	// and on each reload.
	Load func(data []byte) (*Config, error)
	// Listen overrides the config's daemon.listen.
	Listen string
	// Listener, when set, serves /metrics instead of a socket bound to
	// Listen: tests pass one already bound to port 0, which no other test
	// can take between choosing a port and binding it.
	Listener net.Listener
	Log      *slog.Logger
	// NewElector builds the elector when the config enables leader
	// election.
	NewElector func(LeaderElection) (Elector, error)
	// Reload receives SIGHUP (signal.Notify): reload the config now.
	Reload <-chan os.Signal
	// ReloadInterval is how often the config file is checked for changes;
	// 0 turns the check off.
	ReloadInterval time.Duration
	Clock          schedule.Clock // default schedule.RealClock
	// OpenRepo opens a storage URL; default storage.Open with Create.
	OpenRepo func(ctx context.Context, url string) (*storage.Repo, error)
	// Version is this rdbak's, for rdbak_build_info.
	Version string
}

// state is one loaded config with the repositories it names. Runs hold a
// reference, so a reload never closes a repository a backup still uses.
type state struct {
	cfg   *Config
	hash  [sha256.Size]byte
	repos map[string]*storage.Repo // by storage URL
	runs  sync.WaitGroup
}

func (s *state) target(name string) *Target {
	for i := range s.cfg.Targets {
		if s.cfg.Targets[i].Name == name {
			return &s.cfg.Targets[i]
		}
	}
	return nil
}

type daemon struct {
	o   Options
	log *slog.Logger
	m   *metrics

	mu          sync.Mutex
	cur         *state
	sched       *schedule.Scheduler // nil while not leading
	elector     Elector
	failedHash  [sha256.Size]byte // content of the last config that failed to load
	lastSuccess map[string]time.Time
	lastDrill   map[string]time.Time // newest successful drill per target
	stopping    atomic.Bool
}

// Run runs the daemon until ctx is done (SIGTERM), then shuts down
// gracefully: no new backup starts, backups in flight get the config's
// shutdownGrace to finish and are cancelled after it, and Run returns once
// they have returned. A config that does not load, or a listen address
// that cannot be bound, fails Run at once.
func Run(ctx context.Context, o Options) error {
	if o.Clock == nil {
		o.Clock = schedule.RealClock{}
	}
	if o.OpenRepo == nil {
		o.OpenRepo = func(ctx context.Context, url string) (*storage.Repo, error) {
			return storage.Open(ctx, url, storage.Options{Create: true})
		}
	}
	d := &daemon{o: o, log: o.Log, m: newMetrics(o.Version), lastSuccess: map[string]time.Time{}, lastDrill: map[string]time.Time{}}
	stopReady := context.AfterFunc(ctx, func() { d.stopping.Store(true) })
	defer stopReady()
	data, err := os.ReadFile(o.ConfigPath)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	st, err := d.load(ctx, data, nil)
	if err != nil {
		return err
	}
	d.cur = st
	d.m.lastReload.SetToCurrentTime()
	listen := o.Listen
	if listen == "" {
		listen = st.cfg.Listen
	}
	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", listen); err != nil {
			return fmt.Errorf("listen for /metrics on %s: %w", listen, err)
		}
	}
	// Every target's series exist before the first scrape can be served.
	d.addTargets(ctx, st, nil)
	srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	d.log.Info("daemon started", "listen", ln.Addr().String(), "config", o.ConfigPath, "targets", len(st.cfg.Targets))

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go d.watch(watchCtx)

	if le := st.cfg.LeaderElection; le.Enabled {
		// A replica that does not lead shows the last successes too.
		go d.seedLastSuccess(ctx, st, names(st.cfg))
		err = d.elect(ctx, le)
	} else {
		d.lead(ctx, ctx)
	}
	stopWatch()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = errors.Join(err, srv.Shutdown(shutdownCtx))
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("serve /metrics: %w", serr))
	}
	d.mu.Lock()
	final := d.cur
	d.mu.Unlock()
	final.runs.Wait()
	for _, r := range final.repos {
		_ = r.Close()
	}
	d.log.Info("daemon stopped")
	return err
}

func (d *daemon) elect(ctx context.Context, le LeaderElection) error {
	if d.o.NewElector == nil {
		return errors.New("leader election is enabled, but this build cannot reach Kubernetes")
	}
	el, err := d.o.NewElector(le)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.elector = el
	d.mu.Unlock()
	return el.Run(ctx, func(leadCtx context.Context) { d.lead(ctx, leadCtx) })
}

// lead schedules backups until stop is done. When stop ends because ctx
// did (shutdown), backups in flight get the shutdown grace period; when it
// ends on its own (leadership lost), they are cancelled at once, since
// another replica is taking over.
func (d *daemon) lead(ctx, stop context.Context) {
	d.mu.Lock()
	st := d.cur
	d.mu.Unlock()
	// Read now, not at start: a replica that has just taken over knows
	// nothing of the backups the previous leader took.
	d.seedLastSuccess(stop, st, names(st.cfg))
	d.mu.Lock()
	cfg := d.cur.cfg
	sched := schedule.New(d.runTarget, schedule.Options{
		Clock: d.o.Clock, Concurrency: cfg.Concurrency,
		OnSkip: func(name string) {
			if target, ok := strings.CutPrefix(name, drillJob); ok {
				d.log.Warn("drill skipped: the previous one is still running", "target", target)
				return
			}
			d.m.skipped.WithLabelValues(name).Inc()
			d.log.Warn("backup skipped: the previous one is still running", "target", name)
		},
		OnStart: d.started,
	})
	sched.SetJobs(jobs(cfg, d.lastSuccess, d.o.Clock.Now()))
	d.sched = sched
	d.mu.Unlock()
	d.m.leader.Set(1)
	backups, drills := scheduled(cfg)
	d.log.Info("scheduling backups", "backups", backups, "drills", drills)
	defer func() {
		d.m.leader.Set(0)
		d.mu.Lock()
		d.sched = nil
		d.mu.Unlock()
	}()

	work, abort := context.WithCancelCause(context.WithoutCancel(stop))
	defer abort(nil)
	finished := make(chan struct{})
	go func() {
		select {
		case <-stop.Done():
		case <-finished:
			return
		}
		if ctx.Err() == nil {
			d.log.Warn("leadership lost: cancelling backups in flight")
			abort(errors.New("leadership lost"))
			return
		}
		// /readyz says so before the grace period starts (the AfterFunc
		// in Run may not have run yet).
		d.stopping.Store(true)
		d.mu.Lock()
		grace := d.cur.cfg.ShutdownGrace
		d.mu.Unlock()
		d.log.Info("shutting down: backups in flight may finish", "grace", grace.String())
		select {
		case <-d.o.Clock.After(grace):
			d.log.Warn("shutdown grace period over: cancelling backups in flight")
			abort(fmt.Errorf("rdbak daemon shut down and the %s grace period ended", grace))
		case <-finished:
		}
	}()
	sched.Run(stop, work)
	close(finished)
}

// started records a scheduled run's start lateness in the metrics and,
// at debug level, in the log (hack/bench-fleet.sh reads both).
func (d *daemon) started(name string, due, start time.Time) {
	kind, target := "backup", name
	if t, ok := strings.CutPrefix(name, drillJob); ok {
		kind, target = "drill", t
	}
	late := max(start.Sub(due), 0)
	d.m.lateness.WithLabelValues(kind).Observe(late.Seconds())
	d.log.Debug("scheduled run started", "kind", kind, "target", target, "due", due, "lateness_seconds", late.Seconds())
}

// jobs are the scheduler's jobs of cfg at now: each target's backups,
// named by the target, and its drills, named drill/<target>. A backup
// first runs its schedule's interval after the target's last success in
// last, or at once when that has passed or there is none
// (schedule.FirstRun); a drill at its schedule's next time.
func jobs(cfg *Config, last map[string]time.Time, now time.Time) []schedule.Job {
	var out []schedule.Job
	for _, t := range cfg.Targets {
		if !t.Schedule.IsZero() { // unscheduled targets are for rdbak now
			out = append(out, schedule.Job{Name: t.Name, Spec: t.Schedule, Jitter: t.Jitter, First: schedule.FirstRun(t.Schedule, last[t.Name], now)})
		}
		if t.Drill != nil && !t.DrillSchedule.IsZero() {
			out = append(out, schedule.Job{Name: drillJob + t.Name, Spec: t.DrillSchedule, Jitter: t.Jitter})
		}
	}
	return out
}

// scheduled counts the targets of cfg with a backup schedule and those
// with a drill schedule.
func scheduled(cfg *Config) (backups, drills int) {
	for _, t := range cfg.Targets {
		if !t.Schedule.IsZero() {
			backups++
		}
		if t.Drill != nil && !t.DrillSchedule.IsZero() {
			drills++
		}
	}
	return backups, drills
}

// names are the names of cfg's targets.
func names(cfg *Config) []string {
	out := make([]string, len(cfg.Targets))
	for i, t := range cfg.Targets {
		out[i] = t.Name
	}
	return out
}

// runTarget is the scheduler's RunFunc: one backup of target name with
// what follows it, recorded in the metrics.
func (d *daemon) runTarget(ctx context.Context, name string) {
	if target, ok := strings.CutPrefix(name, drillJob); ok {
		d.runDrill(ctx, target)
		return
	}
	d.mu.Lock()
	st := d.cur
	st.runs.Add(1)
	d.mu.Unlock()
	defer st.runs.Done()
	t := st.target(name)
	if t == nil {
		return // removed by a reload since it fell due
	}
	repo := st.repos[t.Storage]
	d.m.inProgress.WithLabelValues(name).Set(1)
	defer func() {
		if d.configured(name) {
			d.m.inProgress.WithLabelValues(name).Set(0)
		}
	}()
	out, err := t.Backup(ctx, repo)
	if !d.configured(name) {
		return
	}
	if err != nil {
		d.m.backups.WithLabelValues(name, resultFailure).Inc()
		return
	}
	d.m.success(name, out)
	if out.CowBytes >= 0 {
		d.m.cow.WithLabelValues(name).Set(float64(out.CowBytes))
	}
	d.setLastSuccess(name, out.Manifest.Finished)
	a := t.After(ctx, repo, d.o.Clock.Now())
	if a.HeartbeatFailed {
		d.m.heartbeatFail.WithLabelValues(name).Inc()
	}
	d.m.pruneDeleted.WithLabelValues(name, "backup").Add(float64(a.PrunedBackups))
	d.m.pruneDeleted.WithLabelValues(name, "orphan").Add(float64(a.DeletedOrphans))
	if a.PruneFailed {
		d.m.pruneFailures.WithLabelValues(name).Inc()
	}
}

// runDrill is the scheduler's RunFunc for drill/<name>: one drill of the
// target's latest backup, recorded in the metrics.
func (d *daemon) runDrill(ctx context.Context, name string) {
	d.mu.Lock()
	st := d.cur
	st.runs.Add(1)
	d.mu.Unlock()
	defer st.runs.Done()
	t := st.target(name)
	if t == nil || t.Drill == nil {
		return // removed by a reload since it fell due
	}
	rec, _ := t.Drill(ctx, st.repos[t.Storage])
	if ctx.Err() != nil || !d.configured(name) {
		return // cancelled: no verdict
	}
	d.m.drill(name, rec)
	if rec != nil && rec.OK() {
		d.setLastDrill(name, rec.Finished)
	}
}

// setLastDrill moves the drill last-success gauge forward only.
func (d *daemon) setLastDrill(name string, t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur.target(name) == nil || !t.After(d.lastDrill[name]) {
		return
	}
	d.lastDrill[name] = t
	d.m.drillLastSuccess.WithLabelValues(name).Set(float64(t.UnixNano()) / 1e9)
}

// seedDrill sets the drill last-success gauge of t from its newest
// successful drill record in storage.
func (d *daemon) seedDrill(ctx context.Context, st *state, t *Target) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rec, err := drill.Latest(ctx, st.repos[t.Storage], t.Name, true)
	if err != nil {
		d.log.Warn("read the newest drill for rdbak_drill_last_success_timestamp_seconds", "target", t.Name, "error", err.Error())
		return
	}
	if rec != nil {
		d.setLastDrill(t.Name, rec.Finished)
	}
}

func (d *daemon) configured(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur.target(name) != nil
}

// setLastSuccess moves the last-success gauge forward only: a slow read
// of storage at startup must not overwrite a newer backup's time.
func (d *daemon) setLastSuccess(name string, t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur.target(name) == nil || !t.After(d.lastSuccess[name]) {
		return
	}
	d.lastSuccess[name] = t
	d.m.lastSuccess.WithLabelValues(name).Set(float64(t.UnixNano()) / 1e9)
}

// addTargets creates the metrics of st's targets that old did not have,
// drops those of targets st no longer has, seeds each new target's drill
// last-success time from storage, and returns the new targets' names.
func (d *daemon) addTargets(ctx context.Context, st, old *state) []string {
	var added []string
	for _, t := range st.cfg.Targets {
		if old == nil || old.target(t.Name) == nil {
			d.m.addTarget(t.Name)
			added = append(added, t.Name)
		}
	}
	if old != nil {
		for _, t := range old.cfg.Targets {
			if st.target(t.Name) == nil {
				d.m.removeTarget(t.Name)
				d.mu.Lock()
				delete(d.lastSuccess, t.Name)
				delete(d.lastDrill, t.Name)
				d.mu.Unlock()
			}
		}
	}
	now := d.o.Clock.Now()
	for i := range st.cfg.Targets {
		d.m.schedules(&st.cfg.Targets[i], now)
	}
	for _, name := range added {
		if t := st.target(name); t.Drill != nil {
			go d.seedDrill(ctx, st, t)
		}
	}
	return added
}

// seedLastSuccess reads the newest backup of each of st's targets named
// in names from storage, all at once, and records its time as the
// target's last success, so that the gauge people alert on and the
// schedule (see jobs) survive restarts. It returns when all reads are
// done. A target whose read fails keeps no last success: its backup is
// due at once, an extra backup rather than a missed one.
func (d *daemon) seedLastSuccess(ctx context.Context, st *state, names []string) {
	var wg sync.WaitGroup
	for _, name := range names {
		repo := st.repos[st.target(name).Storage]
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			// Only the newest manifest is read: 200 targets with months of
			// backups each must not cost a read of every manifest at start.
			newest, err := repo.Latest(ctx, name)
			if err != nil {
				d.log.Warn("read the newest backup for rdbak_backup_last_success_timestamp_seconds", "target", name, "error", err.Error())
				return
			}
			if newest != nil {
				d.setLastSuccess(name, newest.Finished)
			}
		})
	}
	wg.Wait()
}
