package daemon

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// load parses and validates a config and opens the repositories it
// names, reusing old's for unchanged URLs. Opening a repository does not
// dial: an unreachable storage shows in /readyz and in failed backups,
// not as a refused config.
func (d *daemon) load(ctx context.Context, data []byte, old *state) (*state, error) {
	if d.o.Load == nil {
		return nil, errors.New("rdbak daemon: no config loader (Options.Load)")
	}
	cfg, err := d.o.Load(data)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		d.log.Warn(w, "config", d.o.ConfigPath)
	}
	switch backups, drills := scheduled(cfg); {
	case backups+drills == 0:
		return nil, ErrNoSchedule
	case backups == 0:
		// A daemon that proves the backups a CronJob takes is one thing;
		// drill defaults with the backup schedule forgotten is another.
		d.log.Warn("no target has a backup schedule: this daemon runs restore drills only, and backs nothing up", "config", d.o.ConfigPath, "drills", drills)
	}
	st := &state{cfg: cfg, hash: sha256.Sum256(data), repos: map[string]*storage.Repo{}}
	for _, t := range cfg.Targets {
		if _, ok := st.repos[t.Storage]; ok {
			continue
		}
		if old != nil && old.repos[t.Storage] != nil {
			st.repos[t.Storage] = old.repos[t.Storage]
			continue
		}
		r, err := d.o.OpenRepo(ctx, t.Storage)
		if err != nil {
			st.closeNew(old)
			return nil, fmt.Errorf("storage of target %s: %w", t.Name, err)
		}
		st.repos[t.Storage] = r
	}
	return st, nil
}

// closeNew closes the repositories of st that old does not share.
func (st *state) closeNew(old *state) {
	for url, r := range st.repos {
		if old == nil || old.repos[url] != r {
			_ = r.Close()
		}
	}
}

// watch reloads the config on each signal, and when the file's content
// changes (checked every ReloadInterval; a mounted ConfigMap is replaced
// by a symlink swap, which the content check sees).
func (d *daemon) watch(ctx context.Context) {
	lastReadErr := ""
	var seen [sha256.Size]byte // content of the last check
	for {
		var tick <-chan time.Time
		if d.o.ReloadInterval > 0 {
			tick = d.o.Clock.After(d.o.ReloadInterval)
		}
		select {
		case <-ctx.Done():
			return
		case <-d.o.Reload:
			d.log.Info("reloading the config", "config", d.o.ConfigPath, "reason", "signal")
			d.reload(ctx, true)
		case <-tick:
			data, err := os.ReadFile(d.o.ConfigPath)
			if err != nil {
				if err.Error() != lastReadErr {
					d.log.Error("config file unreadable; keeping the running config", "config", d.o.ConfigPath, "error", err.Error())
					lastReadErr = err.Error()
				}
				continue
			}
			lastReadErr = ""
			d.mu.Lock()
			h := sha256.Sum256(data)
			changed := h != d.cur.hash && h != d.failedHash
			d.mu.Unlock()
			// A file being written in place (an editor, a copy) can be
			// read half-written: reload only content that reads the same
			// on two checks in a row.
			if !changed || h != seen {
				seen = h
				continue
			}
			d.log.Info("reloading the config", "config", d.o.ConfigPath, "reason", "file changed")
			d.reload(ctx, false)
		}
	}
}

// reload loads the config file and, if it is valid, puts it in force; if
// not, the running config stays and the error is logged and counted.
// force reloads even an unchanged file (a signal asks for it).
func (d *daemon) reload(ctx context.Context, force bool) {
	data, err := os.ReadFile(d.o.ConfigPath)
	if err != nil {
		d.reloadFailed(fmt.Errorf("read config: %w", err), [sha256.Size]byte{})
		return
	}
	d.mu.Lock()
	old := d.cur
	d.mu.Unlock()
	if !force && sha256.Sum256(data) == old.hash {
		return
	}
	st, err := d.load(ctx, data, old)
	if err != nil {
		d.reloadFailed(err, sha256.Sum256(data))
		return
	}
	for _, w := range restartOnly(old.cfg, st.cfg) {
		d.log.Warn("config change needs a restart to take effect; the old value stays in force", "field", w)
	}
	// Settings that need a restart keep their running values.
	st.cfg.Listen = old.cfg.Listen
	st.cfg.Concurrency = old.cfg.Concurrency
	st.cfg.LeaderElection = old.cfg.LeaderElection
	d.mu.Lock()
	d.cur = st
	d.failedHash = [sha256.Size]byte{}
	d.mu.Unlock()
	// A new target's first backup counts from its last success, so that
	// is read before it is scheduled.
	d.seedLastSuccess(ctx, st, d.addTargets(ctx, st, old))
	d.mu.Lock()
	if d.sched != nil {
		d.sched.SetJobs(jobs(st.cfg, d.lastSuccess, d.o.Clock.Now()))
	}
	d.mu.Unlock()
	go func() {
		// Close the repositories only the old config used, once no run
		// of the old config uses them.
		old.runs.Wait()
		for url, r := range old.repos {
			if st.repos[url] != r {
				_ = r.Close()
			}
		}
	}()
	d.m.reloads.WithLabelValues(resultSuccess).Inc()
	d.m.lastReload.SetToCurrentTime()
	backups, drills := scheduled(st.cfg)
	d.log.Info("config reloaded", "config", d.o.ConfigPath, "targets", len(st.cfg.Targets), "backups", backups, "drills", drills)
}

func (d *daemon) reloadFailed(err error, hash [sha256.Size]byte) {
	d.mu.Lock()
	d.failedHash = hash
	d.mu.Unlock()
	d.m.reloads.WithLabelValues(resultFailure).Inc()
	msg := err.Error()
	if errors.Is(err, ErrNoSchedule) {
		msg = "the new config schedules nothing: " + msg
	}
	d.log.Error("config reload failed; the running config stays in force", "config", d.o.ConfigPath, "error", msg)
}

// restartOnly names the daemon settings that differ between a and b; the
// listener, the concurrency limit and leader election are set up once.
func restartOnly(x, y *Config) []string {
	var out []string
	if x.Listen != y.Listen {
		out = append(out, "daemon.listen")
	}
	if x.Concurrency != y.Concurrency {
		out = append(out, "daemon.concurrency")
	}
	if x.LeaderElection != y.LeaderElection {
		out = append(out, "daemon.leaderElection")
	}
	return out
}
