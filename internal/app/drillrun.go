package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/storage"
)

// DrillRequest is what rdbak drill asks for.
type DrillRequest struct {
	All bool   // every target of the config, latest backup each
	Ref string // latest, an id or a unique prefix; "" for latest
	// Servers are --redis-server binaries; IdentityFiles --identity-file.
	Servers       []string
	IdentityFiles []string
}

// DrillTargets drills what r and d name: with d.All the latest backup of
// every target of the config; else backup d.Ref of the one target of the
// config (--target or its only one) or, without a config, of --target or
// whichever target holds it in --storage. It returns the records made and
// every error joined; a drill that failed wraps drill.ErrFailed.
func (a *App) DrillTargets(ctx context.Context, r Request, d DrillRequest) ([]*drill.Record, error) {
	if d.Ref == "" {
		d.Ref = storage.Latest
	}
	targets, err := r.drillTargets(d)
	if err != nil {
		return nil, err
	}
	var (
		recs []*drill.Record
		errs []error
	)
	for i := range targets {
		rec, err := a.drillRef(ctx, r, &targets[i], d)
		if rec != nil {
			recs = append(recs, rec)
		}
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return recs, errors.Join(errs...)
}

func (r Request) drillTargets(d DrillRequest) ([]config.Target, error) {
	switch {
	case d.All && r.Target != "":
		return nil, UsageError{Err: errors.New("give --target NAME or --all, not both")}
	case d.All && r.Config == "":
		return nil, UsageError{Err: errors.New("--all needs --config: the targets are in the config file")}
	case d.All && d.Ref != storage.Latest:
		return nil, UsageError{Err: fmt.Errorf("--all drills each target's latest backup; to drill backup %s, give its --target", d.Ref)}
	case d.All:
		return r.ConfigTargets()
	case r.Config != "":
		f, err := r.LoadConfig()
		if err != nil {
			return nil, err
		}
		t, err := r.configTarget(f)
		if err != nil {
			return nil, err
		}
		return []config.Target{*t}, nil
	}
	return []config.Target{{Name: r.Target}}, nil
}

// drillRef drills backup d.Ref of t (in --storage when given, else t's own).
func (a *App) drillRef(ctx context.Context, r Request, t *config.Target, d DrillRequest) (*drill.Record, error) {
	url := t.Storage
	if r.Storage != "" {
		url = r.Storage
	}
	if url == "" {
		return nil, UsageError{Err: errors.New("say where the backups are: --storage URL, or --config FILE [--target NAME]")}
	}
	repo, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	sel, err := ResolveBackup(ctx, repo, t.Name, d.Ref, time.Time{}, storage.ResolveOptions{})
	if err != nil {
		return nil, err
	}
	if t.Name == "" {
		t = &config.Target{Name: sel.Manifest.Target}
	}
	var ids *crypt.Identities
	if sel.Manifest.Data.Encrypted() {
		if ids, err = a.targetIdentities(ctx, t, d.IdentityFiles); err != nil {
			return nil, err
		}
	}
	return a.Drill(ctx, repo, sel.Manifest, t, DrillOptions{Servers: d.Servers, Identities: ids})
}
