package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/storage"
)

// Outcome is the result of one target's backup in BackupAll.
type Outcome struct {
	Target   string `json:"target"`
	ID       string `json:"id,omitempty"`
	Result   string `json:"result"` // success, failure or after-failure
	Error    string `json:"error,omitempty"`
	Duration string `json:"duration"`
	err      error
}

// Outcome results.
const (
	ResultSuccess      = "success"
	ResultFailure      = "failure"       // nothing stored
	ResultAfterFailure = "after-failure" // stored; heartbeat, retention or orphans failed
)

// AllOptions tunes BackupAll.
type AllOptions struct {
	Concurrency int // backups at once; at least 1
	// Storage, when set, replaces every target's storage URL.
	Storage string
	After   AfterOptions
}

// BackupAll backs up every target, at most o.Concurrency at once, each with
// what follows it (AfterBackup), and returns one outcome per target in the
// order given. A failed target does not stop the others.
func (a *App) BackupAll(ctx context.Context, targets []config.Target, comp codec.Settings, o AllOptions) []Outcome {
	out := make([]Outcome, len(targets))
	sem := make(chan struct{}, max(1, o.Concurrency))
	var wg sync.WaitGroup
	for i := range targets {
		// Taken here, not in the goroutine, so that backups start in the
		// config's order.
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			out[i] = outcome(targets[i].Name, "", 0, ctx.Err())
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			start := time.Now()
			id, err := a.backupOne(ctx, &targets[i], comp, o)
			out[i] = outcome(targets[i].Name, id, time.Since(start), err)
		}()
	}
	wg.Wait()
	return out
}

func (a *App) backupOne(ctx context.Context, t *config.Target, comp codec.Settings, o AllOptions) (string, error) {
	url := t.Storage
	if o.Storage != "" {
		url = o.Storage
	}
	repo, err := storage.Open(ctx, url, storage.Options{Create: true})
	if err != nil {
		return "", err
	}
	defer repo.Close()
	if err := repo.Check(ctx); err != nil {
		return "", err
	}
	res, err := a.Backup(ctx, t, repo, comp, nil)
	if err != nil {
		return "", err
	}
	id := res.Manifest.ID
	after := o.After
	after.Notifier = a.notifier()
	if err := AfterBackup(ctx, a.Log.With("target", t.Name), repo, t, after).Err(); err != nil {
		return id, &AfterError{Target: t.Name, ID: id, Err: err}
	}
	return id, nil
}

func outcome(target, id string, d time.Duration, err error) Outcome {
	o := Outcome{Target: target, ID: id, Result: ResultSuccess, Duration: d.Round(time.Millisecond).String(), err: err}
	switch {
	case err == nil:
	case errors.As(err, new(*AfterError)):
		o.Result, o.Error = ResultAfterFailure, err.Error()
	default:
		o.Result, o.Error = ResultFailure, err.Error()
	}
	return o
}

// AllErr is the error of a BackupAll run: nil when every target succeeded;
// else an error naming the failed targets that wraps every failure, so a
// failed backup outweighs a failure after a stored one (an AfterError is
// only found by errors.As when nothing failed outright).
func AllErr(outs []Outcome) error {
	var failed, after []string
	var errs []error
	for _, o := range outs {
		switch o.Result {
		case ResultFailure:
			failed = append(failed, o.Target)
			errs = append(errs, o.err)
		case ResultAfterFailure:
			after = append(after, o.Target)
		}
	}
	switch {
	case len(failed) > 0:
		return fmt.Errorf("%d of %d backups failed (%s): %w", len(failed), len(outs), strings.Join(failed, ", "), errors.Join(errs...))
	case len(after) > 0:
		for _, o := range outs {
			if o.Result == ResultAfterFailure {
				errs = append(errs, o.err)
			}
		}
		return fmt.Errorf("every backup is stored, but what follows failed for %s: %w", strings.Join(after, ", "), errors.Join(errs...))
	}
	return nil
}
