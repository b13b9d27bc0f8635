package app

import (
	"context"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/storage"
)

// NowOptions are rdbak now's options besides the target's flags.
type NowOptions struct {
	Timeout time.Duration // replaces the target's timeout when > 0
	NoPrune bool          // skip retention and orphan collection after
	Encrypt EncryptFlags  // replaces the target's encryption when set
	// SingleNode backs up a Redis Cluster node alone, as a partial
	// backup, instead of the whole cluster (cluster.singleNode).
	SingleNode bool
	// Progress, when set, follows the backup's bytes.
	Progress *backup.Progress
	// Started is called just before the snapshot starts (the storage is
	// reachable), Stored once the backup is committed and before what
	// follows it; an error from Stored is returned as is. Either may be
	// nil.
	Started func()
	Stored  func(*storage.Manifest) error
}

// afterNow is what follows a backup of rdbak now, as after a scheduled
// one: heartbeat, and unless noPrune retention and (for config targets)
// orphans.
func afterNow(noPrune, fromConfig bool) AfterOptions {
	o := AfterOptions{Prune: !noPrune, Now: time.Now(), CallerReports: true}
	if fromConfig && !noPrune {
		o.OrphanGrace = config.DefaultOrphanGrace
	}
	return o
}

// BackupNow takes one backup of the target the request and the ad hoc
// flags name, then does what the daemon does after a scheduled one. It
// returns the committed backup; when what follows it failed, the backup
// is returned with an *AfterError.
func (a *App) BackupNow(ctx context.Context, r Request, ad *Adhoc, k *KubeFlags, o NowOptions) (*storage.Manifest, error) {
	t, url, comp, err := r.BackupTarget(ad, k)
	if err != nil {
		return nil, err
	}
	if t, err = o.Encrypt.Apply(t); err != nil {
		return nil, err
	}
	if o.Timeout > 0 || o.SingleNode {
		tc := *t
		if o.Timeout > 0 {
			tc.Timeout = o.Timeout
		}
		tc.Cluster.SingleNode = tc.Cluster.SingleNode || o.SingleNode
		t = &tc
	}
	if t.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = withTimeout(ctx, t.Timeout)
		defer cancel()
	}
	repo, err := storage.Open(ctx, url, storage.Options{Create: true})
	if err != nil {
		return nil, timedOut(ctx, err)
	}
	defer repo.Close()
	// Fail before a long snapshot if the storage is unreachable.
	if err := repo.Check(ctx); err != nil {
		return nil, timedOut(ctx, err)
	}
	if o.Started != nil {
		o.Started()
	}
	res, err := a.Backup(ctx, t, repo, comp, o.Progress)
	if err != nil {
		return nil, err
	}
	m := res.Manifest
	if o.Stored != nil {
		if err := o.Stored(m); err != nil {
			return m, err
		}
	}
	after := afterNow(o.NoPrune, r.Config != "")
	after.Notifier = a.notifier()
	if err := AfterBackup(ctx, a.Log.With("target", t.Name), repo, t, after).Err(); err != nil {
		return m, &AfterError{Target: t.Name, ID: m.ID, Err: err}
	}
	return m, nil
}

// BackupConfig backs up every target of the config file (rdbak now
// --all), concurrency at once (0: the config's daemon.concurrency), each
// followed by what follows it, and returns one outcome per target; AllErr
// says how the whole went.
func (a *App) BackupConfig(ctx context.Context, r Request, ad *Adhoc, k *KubeFlags, o NowOptions, concurrency int) ([]Outcome, error) {
	if r.Config == "" {
		return nil, usagef("--all backs up every target of a config file: give --config FILE")
	}
	if r.Target != "" || ad.Redis != "" || k.Set() {
		return nil, usagef("--all backs up every target: drop --target, --redis and the Kubernetes target flags")
	}
	f, err := r.LoadConfig()
	if err != nil {
		return nil, err
	}
	comp, err := Compression(f.Compression)
	if err != nil {
		return nil, UsageError{Err: err}
	}
	if comp, err = OverrideCodec(comp, ad.Codec, ad.Level); err != nil {
		return nil, err
	}
	if concurrency <= 0 {
		concurrency = f.Daemon.Concurrency
	}
	targets := append([]config.Target(nil), f.Targets...)
	for i := range targets {
		if o.Timeout > 0 {
			targets[i].Timeout = o.Timeout
		}
	}
	return a.BackupAll(ctx, targets, comp, AllOptions{Concurrency: concurrency, Storage: r.Storage, After: afterNow(o.NoPrune, true)}), nil
}
