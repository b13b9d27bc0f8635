package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/schedule"
	"github.com/rdbak/rdbak/storage"
)

// FailuresUnknown is what a status says of failures: a failed backup
// leaves no manifest, so storage records successes only; failures are in
// the daemon's log and metrics (rdbak_backup_total{result="failure"}) and
// in Kubernetes Events.
const FailuresUnknown = "not recorded in storage (a failed backup leaves nothing): see the daemon's log, rdbak_backup_total{result=\"failure\"} or the workload's Events"

// TargetStatus is what storage and the config file say about one target.
type TargetStatus struct {
	Target string `json:"target"`
	// Backups is the number of complete backups kept.
	Backups      int        `json:"backups"`
	LastSuccess  *time.Time `json:"lastSuccess,omitempty"`
	LastBackupID string     `json:"lastBackupID,omitempty"`
	// Age is how long ago the last success was created, at the status's
	// now; AgeSeconds is the same for scripts.
	Age        time.Duration `json:"-"`
	AgeSeconds int64         `json:"ageSeconds,omitempty"`
	Schedule   string        `json:"schedule,omitempty"`
	// NextRun is when rdbak daemon runs the target's next backup, as it
	// schedules one when it starts (schedule.FirstRun): the schedule's
	// next time after the last success, or now when that has passed or
	// there is none (nil: no schedule; the target is backed up by rdbak
	// now only).
	NextRun     *time.Time `json:"nextRun,omitempty"`
	LastFailure string     `json:"lastFailure"`
	// LastDrill is the target's newest restore drill (nil: none yet).
	LastDrill *DrillSummary `json:"lastDrill,omitempty"`
	// Error says why the target's storage could not be read; the fields
	// from storage are then unknown, not zero.
	Error string `json:"error,omitempty"`
}

// StatusOf returns t's status from its backups ms (oldest first, as
// storage lists them) at now.
func StatusOf(t *config.Target, ms []*storage.Manifest, now time.Time) (TargetStatus, error) {
	s := TargetStatus{Target: t.Name, Backups: len(ms), Schedule: t.Schedule, LastFailure: FailuresUnknown}
	var finished time.Time // the daemon's last success (rdbak_backup_last_success_timestamp_seconds)
	if len(ms) > 0 {
		last := ms[len(ms)-1]
		created := last.Created
		s.LastSuccess, s.LastBackupID, s.Age = &created, last.ID, now.Sub(created)
		s.AgeSeconds = int64(s.Age.Seconds())
		finished = last.Finished
	}
	spec, err := t.Spec()
	if err != nil {
		return s, UsageError{Err: err}
	}
	if next := schedule.FirstRun(spec, finished, now); !next.IsZero() {
		s.NextRun = &next
	}
	return s, nil
}

// Status returns the status of each target the request names (see
// Request.Targets) at now, reading each storage once. A storage that
// cannot be read does not hide the others: its targets' statuses say why
// (Error), and the error returned with the statuses names them.
func (r Request) Status(ctx context.Context, now time.Time) ([]TargetStatus, error) {
	targets, err := r.Targets(ctx)
	if err != nil {
		return nil, err
	}
	repos := map[string]*storage.Repo{}
	failed := map[string]error{} // storage that did not open, by URL
	defer func() {
		for _, r := range repos {
			_ = r.Close()
		}
	}()
	out := []TargetStatus{}
	var unread []string
	for i := range targets {
		t := &targets[i]
		url := cmp.Or(r.Storage, t.Storage)
		repo := repos[url]
		if repo == nil && failed[url] == nil {
			if repo, err = storage.Open(ctx, url, storage.Options{}); err != nil {
				failed[url] = err
			} else {
				repos[url] = repo
			}
		}
		s, err := targetStatus(ctx, t, repo, failed[url], now)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		var usage UsageError
		if errors.As(err, &usage) {
			return nil, err
		}
		if err != nil {
			s = TargetStatus{Target: t.Name, Schedule: t.Schedule, LastFailure: FailuresUnknown, Error: err.Error()}
			unread = append(unread, t.Name)
		}
		out = append(out, s)
	}
	if len(unread) > 0 {
		return out, fmt.Errorf("the storage of %d of %d targets could not be read (%s): see their error", len(unread), len(out), strings.Join(unread, ", "))
	}
	return out, nil
}

// targetStatus is t's status from repo, or openErr when its storage did
// not open.
func targetStatus(ctx context.Context, t *config.Target, repo *storage.Repo, openErr error, now time.Time) (TargetStatus, error) {
	if openErr != nil {
		return TargetStatus{}, openErr
	}
	ms, _, err := repo.List(ctx, t.Name)
	if err != nil {
		return TargetStatus{}, err
	}
	s, err := StatusOf(t, ms, now)
	if err != nil {
		return s, err
	}
	s.LastDrill, err = LastDrill(ctx, repo, t.Name)
	return s, err
}
