package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// freezeLease is how long a freeze record holds without renewal; a
// running restore renews it every freezeLease/4. A record older than its
// lease belongs to a restore that died with the set frozen.
const freezeLease = 2 * time.Minute

// freezeStore keeps the freeze record of one target in the backup
// storage (storage.FreezeName). The storage is where every rdbak run that
// may restore or back up the target looks anyway, on any machine; a Redis
// key would be replicated and overwritten by the restore itself, CONFIG
// cannot carry the priorities, and a Kubernetes annotation would serve
// Kubernetes targets only.
type freezeStore struct {
	repo   *storage.Repo
	target string
	lease  time.Duration // freezeLease unless a test sets it
	now    func() time.Time
}

func newFreezeStore(repo *storage.Repo, target string) *freezeStore {
	return &freezeStore{repo: repo, target: target, lease: freezeLease, now: time.Now}
}

// read returns the freeze record, or nil when there is none.
func (f *freezeStore) read(ctx context.Context) (*restore.FreezeRecord, error) {
	b, err := f.repo.ReadFreeze(ctx, f.target)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec restore.FreezeRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("decode freeze record %s/%s: %w (check it and put its replicas' replica-priority back by hand, then delete it)", f.target, storage.FreezeName, err)
	}
	return &rec, nil
}

// take writes rec as a new record; it fails when another is there.
func (f *freezeStore) take(ctx context.Context, rec *restore.FreezeRecord) error {
	host, _ := os.Hostname()
	rec.Holder = fmt.Sprintf("%s pid %d", host, os.Getpid())
	rec.Started = f.now().UTC()
	rec.Expires = rec.Started.Add(f.lease)
	return f.put(ctx, rec, true)
}

func (f *freezeStore) put(ctx context.Context, rec *restore.FreezeRecord, create bool) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return f.repo.PutFreeze(ctx, f.target, b, create)
}

// hold renews rec's lease until ctx ends. When the lease runs out without
// a successful renewal, it calls lost: another run may now thaw the set,
// so the restore must stop.
func (f *freezeStore) hold(ctx context.Context, rec restore.FreezeRecord, log *slog.Logger, lost func(error)) {
	t := time.NewTicker(f.lease / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if f.now().After(rec.Expires) {
			// Another run may have thawed the set already: renewing now
			// would bring back a record of a freeze that is gone.
			lost(fmt.Errorf("the failover freeze's lease in %s/%s ran out before it could be renewed", f.target, storage.FreezeName))
			return
		}
		next := rec
		next.Expires = f.now().UTC().Add(f.lease)
		if err := f.put(ctx, &next, false); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.WarnContext(ctx, "could not renew the failover freeze's lease", "error", err.Error())
			continue
		}
		rec = next
	}
}

// ErrFrozenByOther means another restore, still running by its lease,
// holds the failover freeze of the set.
var ErrFrozenByOther = errors.New("another restore holds the failover freeze")

// thawLeftover puts back the priorities a dead restore left frozen, and
// reports whether it did. A record whose lease still runs is another
// restore's: thawLeftover leaves it and returns ErrFrozenByOther.
func (s *replicaSet) thawLeftover(ctx context.Context, log *slog.Logger, poll time.Duration) (bool, error) {
	f := s.record
	if f == nil {
		return false, nil
	}
	rec, err := f.read(ctx)
	if err != nil || rec == nil {
		return false, err
	}
	if !rec.Stale(f.now()) {
		return false, fmt.Errorf("%w of %s (%s, started %s, lease until %s): wait for it to end; if it is gone for good, its lease runs out within %s, then run rdbak restore --thaw",
			ErrFrozenByOther, f.target, rec.Holder, rec.Started.Format(time.RFC3339), rec.Expires.Format(time.RFC3339), f.lease)
	}
	log.WarnContext(ctx, "a restore left the Sentinel set with failover frozen; putting the recorded replica-priority back",
		"target", f.target, "holder", rec.Holder, "started", rec.Started, "replicas", rec.Replicas)
	if err := s.thaw(ctx, rec.Replicas, poll); err != nil {
		return false, fmt.Errorf("thaw the freeze left by the restore of %s (%s): %w", rec.Started.Format(time.RFC3339), rec.Holder, err)
	}
	log.InfoContext(ctx, "failover freeze left by a dead restore undone", "target", f.target, "replicas", rec.Replicas)
	return true, nil
}

// ThawInto undoes the failover freeze a killed restore left on the
// Sentinel set of the target (rdbak restore --thaw): it puts back the
// replica-priority recorded in the target's freeze record. The set may be
// reached through Kubernetes or by the Sentinels' addresses: thawing needs
// only the Sentinels and the data nodes. It reports whether there was a
// record; a freeze whose restore still runs (its lease has not run out) is
// left alone with ErrFrozenByOther.
func (a *App) ThawInto(ctx context.Context, r Request, k *KubeFlags, passwordFile string) (bool, error) {
	var (
		t   *config.Target
		url string
		err error
	)
	switch {
	case r.Config != "":
		if k.Set() || passwordFile != "" {
			return false, usagef("--thaw: with --config, name the target with --target; --pod/--statefulset/--password-file are for ad hoc use")
		}
		t, url, _, err = r.BackupTarget(&Adhoc{}, k)
	case k.Set():
		t, url, err = r.RestoreTarget(k, passwordFile)
	default:
		return false, usagef("--thaw: name the Sentinel set's target with --config and --target (the freeze record is kept under that target's name in its storage)")
	}
	if err != nil {
		return false, err
	}
	if t.Sentinel == nil {
		return false, UsageError{Err: fmt.Errorf("--thaw: target %q is not a Sentinel set (no sentinel block): only a restore into a Sentinel set freezes failover", t.Name)}
	}
	repo, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		return false, err
	}
	defer repo.Close()
	var so SentinelOptions
	if t.Kubernetes != nil {
		var ks *kubeSet
		if so, ks, err = a.kubeSentinelOptions(ctx, t); err != nil {
			return false, err
		}
		defer ks.Close()
	} else if so, err = SentinelOptionsOf(t); err != nil {
		return false, err
	}
	set, err := discover(ctx, so)
	if err != nil {
		return false, err
	}
	defer set.Close()
	set.record = newFreezeStore(repo, t.Name)
	done, err := set.thawLeftover(ctx, a.Log, 500*time.Millisecond)
	if err == nil && !done {
		a.Log.InfoContext(ctx, "no failover freeze recorded for the target; nothing to thaw", "target", t.Name)
	}
	return done, err
}

// warnFrozen logs, at a backup of a Sentinel set, a failover freeze that a
// restore recorded: a running restore's as a warning, a dead one's (its
// lease ran out) as an error that says how to undo it, since the set
// cannot fail over until then. The backup itself goes on.
func warnFrozen(ctx context.Context, log *slog.Logger, f *freezeStore) {
	rec, err := f.read(ctx)
	switch {
	case err != nil:
		log.WarnContext(ctx, "could not check for a failover freeze left by a restore", "error", err.Error())
	case rec == nil:
	case rec.Stale(f.now()):
		log.ErrorContext(ctx, "the Sentinel set cannot fail over: a restore that died left replica-priority 0 on its replicas; run rdbak restore --thaw for this target (or restore it), which puts the recorded priorities back",
			"holder", rec.Holder, "started", rec.Started, "replicas", rec.Replicas, "record", f.target+"/"+storage.FreezeName)
	default:
		log.WarnContext(ctx, "a restore into this Sentinel set is running: failover is frozen until it ends",
			"holder", rec.Holder, "started", rec.Started, "lease_until", rec.Expires)
	}
}
