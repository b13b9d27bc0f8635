package schedule

import (
	"context"
	"fmt"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// Store is what Prune needs of a backup repository; *storage.Repo is one.
type Store interface {
	// List returns target's readable manifests, and the manifests it could
	// not read as problems.
	List(ctx context.Context, target string) ([]*storage.Manifest, []storage.Problem, error)
	// Delete removes a backup, its manifest first; a backup already gone
	// is not an error.
	Delete(ctx context.Context, m *storage.Manifest) error
}

// OrphanStore is what CollectOrphans needs; *storage.Repo is one.
type OrphanStore interface {
	// Orphans returns target's backup directories without a manifest
	// whose newest object is older than grace at now, listing only
	// target's keys.
	Orphans(ctx context.Context, target string, now time.Time, grace time.Duration) ([]storage.Orphan, error)
	// DeleteOrphan removes one, unless a manifest has appeared since.
	DeleteOrphan(ctx context.Context, o storage.Orphan) error
}

// PruneResult is what Prune decided and did.
type PruneResult struct {
	Plan    []Decision          // newest first
	Deleted []*storage.Manifest // oldest first
	// Problems are manifests that could not be read, or whose data object
	// is missing. They are neither counted by the policy nor deleted: a
	// person has to look at them.
	Problems []storage.Problem
}

// Prune applies p to target's backups in store. With apply it deletes
// what the plan drops, oldest first, and stops at the first error or when
// ctx is done; otherwise it only plans. A zero Policy deletes nothing.
func Prune(ctx context.Context, store Store, target string, p Policy, apply bool) (PruneResult, error) {
	ms, problems, err := store.List(ctx, target)
	if err != nil {
		return PruneResult{}, err
	}
	res := PruneResult{Plan: Plan(ms, p), Problems: problems}
	if !apply {
		return res, nil
	}
	for i := len(res.Plan) - 1; i >= 0; i-- {
		d := res.Plan[i]
		if d.Keep {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("prune %s: stopped before deleting %s: %w", target, d.Manifest.ID, context.Cause(ctx))
		}
		if err := store.Delete(ctx, d.Manifest); err != nil {
			return res, fmt.Errorf("prune %s: %w", target, err)
		}
		res.Deleted = append(res.Deleted, d.Manifest)
	}
	return res, nil
}

// CollectOrphans finds target's orphans (data without a manifest, left by
// a failed or killed backup) older than grace at now, and with apply
// deletes them. It returns the orphans found; with apply, those deleted
// before any error.
func CollectOrphans(ctx context.Context, store OrphanStore, target string, now time.Time, grace time.Duration, apply bool) ([]storage.Orphan, error) {
	all, err := store.Orphans(ctx, target, now, grace)
	if err != nil {
		return nil, err
	}
	var out []storage.Orphan
	for _, o := range all {
		if o.Target != target {
			continue
		}
		if apply {
			if err := ctx.Err(); err != nil {
				return out, fmt.Errorf("collect orphans of %s: %w", target, context.Cause(ctx))
			}
			if err := store.DeleteOrphan(ctx, o); err != nil {
				return out, err
			}
		}
		out = append(out, o)
	}
	return out, nil
}
