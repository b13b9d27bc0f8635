package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// Leftovers returns every manifest-less backup directory, whatever its age,
// each with the time at which a grace of grace makes it collectable; gc
// shows the young ones too, so that nothing a killed backup left is
// invisible. In id order (creation order).
func (r *Repo) Leftovers(ctx context.Context, grace time.Duration) ([]Orphan, error) {
	type dir struct {
		o        Orphan
		manifest bool
	}
	dirs := map[string]*dir{}
	it := r.bucket.List(&blob.ListOptions{})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, r.scrub.err(fmt.Errorf("list %s: %w", r.display, err))
		}
		t, id, name, ok := splitBackupKey(obj.Key)
		if !ok {
			continue
		}
		d := dirs[t+"/"+id]
		if d == nil {
			d = &dir{o: Orphan{Target: t, ID: id}}
			dirs[t+"/"+id] = d
		}
		d.manifest = d.manifest || name == ManifestName
		d.o.Keys = append(d.o.Keys, obj.Key)
		d.o.Size += obj.Size
		if obj.ModTime.After(d.o.Newest) {
			d.o.Newest = obj.ModTime
		}
	}
	var out []Orphan
	for _, d := range dirs {
		if !d.manifest {
			d.o.Collectable = d.o.Newest.Add(grace)
			out = append(out, d.o)
		}
	}
	slices.SortFunc(out, func(a, b Orphan) int {
		if c := CompareID(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Target, b.Target)
	})
	return out, nil
}

// Orphans returns manifest-less backup directories whose newest object is
// older than grace at now. The grace period keeps a backup that is still
// uploading (its manifest not yet written) from being collected.
func (r *Repo) Orphans(ctx context.Context, now time.Time, grace time.Duration) ([]Orphan, error) {
	all, err := r.Leftovers(ctx, grace)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(o Orphan) bool { return now.Before(o.Collectable) }), nil
}

// DeleteOrphan removes an orphan found by Orphans, unless a manifest has
// appeared for it since.
func (r *Repo) DeleteOrphan(ctx context.Context, o Orphan) error {
	ok, err := r.bucket.Exists(ctx, manifestKey(o.Target, o.ID))
	if err != nil {
		return r.scrub.err(fmt.Errorf("check manifest of %s/%s: %w", o.Target, o.ID, err))
	}
	if ok {
		return fmt.Errorf("%s/%s gained a manifest since it was listed; not deleting it", o.Target, o.ID)
	}
	return r.scrub.err(r.deletePrefix(ctx, backupDir(o.Target, o.ID)))
}
