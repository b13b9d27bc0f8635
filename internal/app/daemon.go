package app

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/daemon"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/storage"
)

// ScheduledFunc takes one scheduled backup of t into repo; cfg is the
// config in force when the run started. App.ScheduledBackup is the one
// rdbak daemon runs.
type ScheduledFunc func(ctx context.Context, cfg *config.File, t *config.Target, repo *storage.Repo) (*backup.Result, error)

// DrillFunc drills the latest backup of t in repo; App.ScheduledDrill is
// the one rdbak daemon runs.
type DrillFunc func(ctx context.Context, cfg *config.File, t *config.Target, repo *storage.Repo) (*drill.Record, error)

// DaemonLoader returns the daemon's Options.Load for the config file path:
// it parses and validates the file's content and turns it into the
// daemon's typed Config, each target backed up by run and followed by
// AfterBackup (heartbeats and notifications through client; nil for
// http.DefaultClient), and drilled by ScheduledDrill on its drill
// schedule.
//
// With daemon.executor: job, run is replaced by a Kubernetes Job per
// backup (jobexec.go), built from the daemon's own pod.
func (a *App) DaemonLoader(path string, run ScheduledFunc, client *http.Client) func([]byte) (*daemon.Config, error) {
	jobs := newJobExecutor(a, path)
	return func(data []byte) (*daemon.Config, error) {
		cfg, err := config.Parse(data, path, os.LookupEnv)
		if err != nil {
			return nil, err
		}
		r := run
		if cfg.Daemon.Executor == config.ExecutorJob {
			r = jobs.backup
		}
		return a.DaemonConfig(cfg, r, client), nil
	}
}

// DaemonConfig is cfg, validated, as the daemon runs it.
func (a *App) DaemonConfig(cfg *config.File, run ScheduledFunc, client *http.Client) *daemon.Config {
	d := cfg.Daemon
	le := d.LeaderElection
	out := &daemon.Config{
		Listen: d.Listen, Concurrency: d.Concurrency, ShutdownGrace: d.ShutdownGrace, Warnings: cfg.Warnings(),
		LeaderElection: daemon.LeaderElection{Enabled: le.Enabled, Namespace: le.Namespace, Name: le.Name,
			LeaseDuration: le.LeaseDuration, RenewDeadline: le.RenewDeadline, RetryPeriod: le.RetryPeriod},
	}
	drills := a.Drills
	if drills == nil {
		drills = a.ScheduledDrill
	}
	for i := range cfg.Targets {
		t := &cfg.Targets[i]
		spec, _ := t.Spec()           // validated by Parse; a zero Spec is not scheduled
		drillSpec, _ := t.DrillSpec() // the same
		out.Targets = append(out.Targets, daemon.Target{
			Name: t.Name, Storage: t.Storage, Schedule: spec, Jitter: t.Jitter, DrillSchedule: drillSpec,
			Drill: func(ctx context.Context, repo *storage.Repo) (*drill.Record, error) {
				return drills(ctx, cfg, t, repo)
			},
			Backup: func(ctx context.Context, repo *storage.Repo) (*backup.Result, error) {
				return run(ctx, cfg, t, repo)
			},
			After: func(ctx context.Context, repo *storage.Repo, now time.Time) daemon.Aftermath {
				n := a.notifier()
				n.Client = client
				r := AfterBackup(ctx, a.Log.With("target", t.Name), repo, t, AfterOptions{
					Client: client, Prune: true, OrphanGrace: d.OrphanGrace, Now: now, Notifier: n,
					// A backup Job's rdbak now called the heartbeat.
					SkipHeartbeat: d.Executor == config.ExecutorJob,
				})
				return daemon.Aftermath{HeartbeatFailed: r.HeartbeatErr != nil, PruneFailed: r.PruneErr != nil || r.OrphanErr != nil,
					PrunedBackups: len(r.Pruned.Deleted), DeletedOrphans: len(r.Orphans)}
			},
		})
	}
	return out
}

// RunDaemon runs rdbak daemon on the config file path until ctx ends,
// with o's listen address and reload triggers: every scheduled target
// backed up by ScheduledBackup, and a Lease elected through a.Kube when
// the config enables leader election. A config that does not validate or
// schedules nothing is a UsageError; a shutdown by ctx is a success.
func (a *App) RunDaemon(ctx context.Context, path string, o daemon.Options) error {
	SetGCPercent(DaemonGCPercent)
	o.ConfigPath, o.Log, o.Version = path, a.Log, a.Version
	o.Load = a.DaemonLoader(path, a.ScheduledBackup, nil)
	o.NewElector = a.NewElector(a.Kube)
	err := daemon.Run(ctx, o)
	var fe *config.FieldError
	if errors.As(err, &fe) || errors.Is(err, daemon.ErrNoSchedule) {
		return UsageError{Err: err}
	}
	if err == nil && ctx.Err() != nil {
		return nil // a graceful shutdown is a success
	}
	return err
}

// NewElector returns the daemon's Options.NewElector: a Lease-based
// elector reached through kf (the kubectl flags, or the pod's
// ServiceAccount). The Lease's namespace defaults to the pod's own.
func (a *App) NewElector(kf *kube.Flags) func(daemon.LeaderElection) (daemon.Elector, error) {
	return func(le daemon.LeaderElection) (daemon.Elector, error) {
		c, err := kf.Client()
		if err != nil {
			return nil, err
		}
		ns := le.Namespace
		if ns == "" {
			if ns, err = kf.Namespace(); err != nil {
				return nil, err
			}
		}
		return kube.NewLeaderElector(c.API, kube.LeaderOptions{
			Namespace: ns, Name: le.Name,
			LeaseDuration: le.LeaseDuration, RenewDeadline: le.RenewDeadline, RetryPeriod: le.RetryPeriod,
			Log: a.Log,
		})
	}
}
