package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gocloud.dev/blob"
)

// Orphan is a backup directory with data but no manifest: a failed or
// interrupted backup (or a delete that stopped half way). It is garbage
// once its grace period is over.
type Orphan struct {
	Target, ID string
	Keys       []string
	Size       int64
	Newest     time.Time // newest modification time among Keys
	// Collectable is when the grace period of the call that found it
	// ends: Newest plus the grace.
	Collectable time.Time
}

// Leftovers returns target's manifest-less backup directories (every
// target's when target is ""), whatever their age, each with the time at
// which a grace of grace makes it collectable; gc shows the young ones too,
// so that nothing a killed backup left is invisible. In id order (creation
// order).
//
// The listing is walked page by page in key order, where the objects of
// one backup directory are adjacent: each directory is judged when the
// walk leaves it, and only orphans are kept, so memory grows with the
// orphans, not with the backups held.
func (r *Repo) Leftovers(ctx context.Context, target string, grace time.Duration) ([]Orphan, error) {
	prefix := ""
	if target != "" {
		if err := ValidateTarget(target); err != nil {
			return nil, err
		}
		prefix = target + "/"
	}
	var (
		out      []Orphan
		cur      *Orphan // the directory being walked
		manifest bool
	)
	flush := func() {
		if cur != nil && !manifest {
			cur.Collectable = cur.Newest.Add(grace)
			out = append(out, *cur)
		}
		cur, manifest = nil, false
	}
	err := r.walk(ctx, &blob.ListOptions{Prefix: prefix}, func(obj *blob.ListObject) error {
		t, id, name, ok := splitBackupKey(obj.Key)
		if !ok {
			return nil
		}
		if cur == nil || cur.Target != t || cur.ID != id {
			flush()
			cur = &Orphan{Target: t, ID: id}
		}
		manifest = manifest || name == ManifestName
		if !manifest {
			cur.Keys = append(cur.Keys, obj.Key)
			cur.Size += obj.Size
			if obj.ModTime.After(cur.Newest) {
				cur.Newest = obj.ModTime
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	flush()
	slices.SortFunc(out, func(a, b Orphan) int {
		if c := CompareID(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Target, b.Target)
	})
	return out, nil
}

// Orphans returns target's manifest-less backup directories (every
// target's when target is "") whose newest object is older than grace at
// now. The grace period keeps a backup that is still uploading (its
// manifest not yet written) from being collected.
func (r *Repo) Orphans(ctx context.Context, target string, now time.Time, grace time.Duration) ([]Orphan, error) {
	all, err := r.Leftovers(ctx, target, grace)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(o Orphan) bool { return now.Before(o.Collectable) }), nil
}

// DeleteOrphan removes an orphan found by Orphans, unless a manifest has
// appeared for it since.
func (r *Repo) DeleteOrphan(ctx context.Context, o Orphan) error {
	ok, err := r.exists(ctx, manifestKey(o.Target, o.ID))
	if err != nil {
		return r.scrub.err(fmt.Errorf("check manifest of %s/%s: %w", o.Target, o.ID, err))
	}
	if ok {
		return fmt.Errorf("%s/%s gained a manifest since it was listed; not deleting it", o.Target, o.ID)
	}
	return r.scrub.err(r.deletePrefix(ctx, backupDir(o.Target, o.ID)))
}
