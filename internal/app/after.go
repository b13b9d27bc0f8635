package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/schedule"
	"github.com/rdbak/rdbak/storage"
)

// Aftermath is what followed a successful backup: the heartbeat, then
// retention, then orphan collection. Each step runs even if an earlier one
// failed; Err joins their errors.
type Aftermath struct {
	HeartbeatErr error // nil also when no heartbeat is configured
	Pruned       schedule.PruneResult
	PruneErr     error
	Orphans      []storage.Orphan // deleted
	OrphanErr    error
}

// AfterError is a failure of what follows a stored backup: the backup
// itself succeeded and must not be retried as a failed one (a CronJob
// that retries would take extra backups), so the command line gives it
// its own exit code.
type AfterError struct {
	Target, ID string
	Err        error
}

func (e *AfterError) Error() string {
	return fmt.Sprintf("backup %s of %s is stored, but what follows it failed: %v", e.ID, e.Target, e.Err)
}

func (e *AfterError) Unwrap() error { return e.Err }

// Err returns the steps' errors joined; nil when all succeeded.
func (a Aftermath) Err() error { return errors.Join(a.HeartbeatErr, a.PruneErr, a.OrphanErr) }

// AfterOptions tunes AfterBackup.
type AfterOptions struct {
	Client *http.Client // for the heartbeat; http.DefaultClient when nil
	// Prune applies the target's retention policy; false leaves every
	// backup in place (rdbak now --no-prune).
	Prune       bool
	OrphanGrace time.Duration // 0: collect no orphans
	Now         time.Time     // for the orphan grace period
	// CallerReports: the caller prints Err (rdbak now), so failed steps
	// are logged at debug level only; the daemon logs them as errors.
	CallerReports bool
	// Notifier tells the target's webhook when retention or orphan
	// collection failed.
	Notifier Notifier
	// SkipHeartbeat: the backup's own process called it (a backup Job of
	// the daemon's executor job).
	SkipHeartbeat bool
}

// AfterBackup runs what follows a successful backup of t into repo, in
// the daemon and in rdbak now alike, logging one line per step that did
// something or failed: it calls the heartbeat (the backup was verified as
// it streamed and is committed), applies the retention policy and
// collects the target's orphans older than the grace period.
func AfterBackup(ctx context.Context, log *slog.Logger, repo *storage.Repo, t *config.Target, o AfterOptions) Aftermath {
	var a Aftermath
	lvl := failureLevel(o.CallerReports)
	if t.Heartbeat.URL != "" && !o.SkipHeartbeat {
		if a.HeartbeatErr = CallHeartbeat(ctx, o.Client, t.Heartbeat); a.HeartbeatErr != nil {
			log.Log(ctx, lvl, "heartbeat failed", "error", a.HeartbeatErr.Error())
		}
	}
	if o.Prune {
		a.Pruned, a.PruneErr = prune(ctx, repo, t)
		for _, m := range a.Pruned.Deleted {
			log.Info("backup pruned", "backup_id", m.ID, "created", m.Created)
		}
		for _, p := range a.Pruned.Problems {
			log.Warn("damaged backup left alone by prune", "key", p.Key, "error", p.Err.Error())
		}
		if a.PruneErr != nil {
			log.Log(ctx, lvl, "prune failed", "error", a.PruneErr.Error())
		}
	}
	if o.OrphanGrace > 0 {
		a.Orphans, a.OrphanErr = schedule.CollectOrphans(ctx, repo, t.Name, o.Now, o.OrphanGrace, true)
		for _, or := range a.Orphans {
			log.Info("orphan collected", "backup_id", or.ID, "objects", len(or.Keys), "bytes", or.Size)
		}
		if a.OrphanErr != nil {
			log.Log(ctx, lvl, "orphan collection failed", "error", a.OrphanErr.Error())
		}
	}
	o.Notifier.Notify(ctx, log, t, EventPruneFailed, "", errors.Join(a.PruneErr, a.OrphanErr))
	return a
}

func prune(ctx context.Context, repo *storage.Repo, t *config.Target) (schedule.PruneResult, error) {
	p, err := t.Policy()
	if err != nil {
		return schedule.PruneResult{}, err
	}
	if p.IsZero() {
		return schedule.PruneResult{}, nil
	}
	return schedule.Prune(ctx, repo, t.Name, p, true)
}

// CallHeartbeat calls h's URL and checks for a 2xx answer. Errors never
// contain the URL, which usually holds the monitoring service's token;
// they name its host only.
func CallHeartbeat(ctx context.Context, client *http.Client, h config.Heartbeat) error {
	if client == nil {
		client = http.DefaultClient
	}
	u, err := url.Parse(h.URL)
	if err != nil {
		return errors.New("call heartbeat: the URL does not parse")
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = config.DefaultHeartbeatTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	method := h.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, h.URL, nil)
	if err != nil {
		return fmt.Errorf("call heartbeat at %s: build request: %w", u.Host, unwrapURL(err))
	}
	req.Header.Set("User-Agent", "rdbak")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("call heartbeat at %s: %w", u.Host, unwrapURL(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("call heartbeat at %s: answered %s", u.Host, resp.Status)
	}
	return nil
}

// unwrapURL drops a *url.Error's Op and URL, keeping the cause.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
