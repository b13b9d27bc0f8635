package app

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// ListOptions narrows rdbak list.
type ListOptions struct {
	Since  time.Time // only backups created at or after it; zero: all
	Last   int       // only the newest Last; 0: all
	Drills bool      // also each backup's newest drill
}

// Listing is what rdbak list shows.
type Listing struct {
	Manifests []*storage.Manifest // oldest first
	// Drills holds the newest drill of each backup, by backup ID; nil
	// unless ListOptions.Drills.
	Drills map[string]*DrillSummary
}

// List lists the complete backups of r's target (of every target when it
// names none), oldest first by creation time; a manifest that cannot be
// read is logged as a warning and skipped. From a config file without
// --target or --storage it lists the file's storage and each target's own.
func (r Request) List(ctx context.Context, o ListOptions) (*Listing, error) {
	l := &Listing{}
	if o.Drills {
		l.Drills = map[string]*DrillSummary{}
	}
	parts := []Request{r}
	if r.Config != "" && r.Target == "" && r.Storage == "" {
		f, err := r.LoadConfig()
		if err != nil {
			return nil, err
		}
		if parts = parts[:0]; f.Storage != "" {
			parts = append(parts, r)
		}
		for _, t := range f.Targets {
			if t.Storage != f.Storage {
				rt := r
				rt.Target = t.Name
				parts = append(parts, rt)
			}
		}
	}
	for _, p := range parts {
		if err := p.listInto(ctx, l, o.Drills, p.Target == r.Target); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(l.Manifests, storage.Compare)
	l.Manifests = Newest(l.Manifests, o.Since, o.Last)
	return l, nil
}

// listInto adds the backups of r's storage and target to l, and their
// drills with drills; with hint, a target without backups is told which
// targets have some.
func (r Request) listInto(ctx context.Context, l *Listing, drills, hint bool) error {
	repo, target, err := r.OpenRepo(ctx, false)
	if err != nil {
		return err
	}
	defer repo.Close()
	ms, problems, err := repo.List(ctx, target)
	if err != nil {
		return err
	}
	for _, p := range problems {
		r.Log.Warn("damaged backup skipped", "key", p.Key, "error", p.Err.Error())
	}
	if len(ms) == 0 && hint {
		if h := TargetHint(ctx, repo, target); h != "" {
			r.Log.Warn("no backups of target " + target + ": " + h)
		}
	}
	l.Manifests = append(l.Manifests, ms...)
	if drills {
		ds, err := LastDrills(ctx, repo, target)
		if err != nil {
			return err
		}
		maps.Copy(l.Drills, ds)
	}
	return nil
}

// Describe picks the backup ref names (latest, an id, or a unique prefix:
// ResolveBackup) and reads its drill records. A damaged newest backup is
// an error naming it.
func (r Request) Describe(ctx context.Context, ref string) (*storage.Manifest, []drill.Record, error) {
	repo, target, err := r.OpenRepo(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	defer repo.Close()
	sel, err := ResolveBackup(ctx, repo, target, ref, time.Time{}, storage.ResolveOptions{})
	if err != nil {
		return nil, nil, err
	}
	drills, err := Drills(ctx, repo, sel.Manifest)
	if err != nil {
		return nil, nil, err
	}
	return sel.Manifest, drills, nil
}

// Verification is the outcome of VerifyBackup.
type Verification struct {
	Manifest *storage.Manifest
	Report   *restore.Report
	// StoredOnly: the backup is encrypted and no identity decrypts it, so
	// only the stored object's size and SHA-256 were checked, not the RDB
	// (verify's STORED-OK).
	StoredOnly bool
}

// VerifyBackup opens the backup rr names (OpenBackup) and checks it
// completely (Verify), or, encrypted with no identity given or configured,
// as stored only (VerifyStored). started is called with the manifest
// before a complete check and returns the counter of its RDB bytes (for a
// progress line; it may return nil).
func (a *App) VerifyBackup(ctx context.Context, r Request, rr RestoreRequest, started func(*storage.Manifest) func(int)) (*Verification, error) {
	b, err := a.OpenBackup(ctx, r, rr)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	v := &Verification{Manifest: b.Manifest, StoredOnly: b.Manifest.Data.Encrypted() && b.Identities.Len() == 0}
	if v.StoredOnly {
		v.Report, err = a.VerifyStored(ctx, b.Repo, b.Manifest)
	} else {
		v.Report, err = a.Verify(ctx, b.Repo, b.Manifest, b.Identities, started(b.Manifest))
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}
