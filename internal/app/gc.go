package app

import (
	"context"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// Leftover is what a failed or killed backup left behind: a backup
// directory with data but no manifest, or an unfinished upload.
type Leftover struct {
	Target string
	// Orphan is set for a backup directory, Upload for an unfinished
	// upload.
	Orphan      *storage.Orphan
	Upload      *storage.PendingUpload
	Collectable time.Time
	// Action is what GC did or would do: would delete, deleted, would
	// abort, aborted, or not yet (within the grace period).
	Action string
}

// GC is GC over the storage of r, for r's target (every target when it
// names none).
func (r Request) GC(ctx context.Context, grace time.Duration, now time.Time, del bool, found func(Leftover)) error {
	repo, target, err := r.OpenRepo(ctx, false)
	if err != nil {
		return err
	}
	defer repo.Close()
	return GC(ctx, repo, target, grace, now, del, found)
}

// GC finds what failed or killed backups left in repo (of target, or of
// every target when ""): backup directories without a manifest and
// unfinished uploads. Those older than grace at now are collected when del
// is set. Each is passed to found as it is handled, so that a failure half
// way leaves a report of what was done; the first error stops GC.
func GC(ctx context.Context, repo *storage.Repo, target string, grace time.Duration, now time.Time, del bool, found func(Leftover)) error {
	orphans, err := repo.Leftovers(ctx, target, grace)
	if err != nil {
		return err
	}
	uploads, err := repo.PendingUploads(ctx, grace)
	if err != nil {
		return err
	}
	type leftover struct {
		Leftover
		verb, done string
		collect    func() error
	}
	var all []leftover
	for _, o := range orphans {
		all = append(all, leftover{Leftover{Target: o.Target, Orphan: &o, Collectable: o.Collectable},
			"would delete", "deleted", func() error { return repo.DeleteOrphan(ctx, o) }})
	}
	for _, u := range uploads {
		all = append(all, leftover{Leftover{Target: u.Target, Upload: &u, Collectable: u.Collectable},
			"would abort", "aborted", func() error { return repo.AbortPending(ctx, u) }})
	}
	for _, l := range all {
		if target != "" && l.Target != target {
			continue
		}
		l.Collectable = l.Collectable.UTC()
		if now.Before(l.Collectable) {
			l.Action = "not yet"
			found(l.Leftover)
			continue
		}
		l.Action = l.verb
		if del {
			if err := l.collect(); err != nil {
				return err
			}
			l.Action = l.done
		}
		found(l.Leftover)
	}
	return nil
}
