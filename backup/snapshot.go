package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/rdbak/rdbak/internal/redis/info"
)

// ErrSaveFailed means Redis could not write a snapshot: the BGSAVE was
// refused, or the child process failed. The wrapped text is Redis's own.
var ErrSaveFailed = errors.New("redis could not save a snapshot")

// SnapshotOptions tunes Snapshot. The zero value polls from 100ms up to 2s
// and gives up after an hour.
type SnapshotOptions struct {
	Poll    time.Duration // first poll interval; doubles up to MaxPoll
	MaxPoll time.Duration
	Timeout time.Duration // hard limit for the whole snapshot
	// Sleep waits d or until ctx ends; tests inject one that does not
	// sleep for real.
	Sleep func(ctx context.Context, d time.Duration) error
	// Log receives the state machine's steps at debug level; nil: none.
	Log *slog.Logger
}

func (o SnapshotOptions) withDefaults() SnapshotOptions {
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.MaxPoll < o.Poll {
		o.MaxPoll = max(2*time.Second, o.Poll)
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Hour
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SnapshotResult describes the save that Snapshot waited for.
type SnapshotResult struct {
	LastSave time.Time // rdb_last_save_time after our save, server clock
	// Requested is when the snapshot was asked for, by the server's clock
	// (whole seconds; zero when the server does not report its clock): the
	// RDB's ctime is not older.
	Requested time.Time
	COWBytes  int64 // rdb_last_cow_size, copy-on-write memory the fork cost
	Polls     int
}

// readPersistence reads INFO persistence, and INFO server's run_id to
// notice a restart: a restarted Redis has forgotten the save it was asked
// for, and waiting for it would only end at the timeout.
func readPersistence(ctx context.Context, srv Server, runID string) (info.Persistence, error) {
	in, err := srv.Info(ctx, "server", "persistence")
	if err != nil {
		return info.Persistence{}, fmt.Errorf("read INFO persistence: %w", err)
	}
	if in.Server.RunID != runID {
		return in.Persistence, fmt.Errorf("%w: Redis restarted while rdbak waited for its save (run_id %s, now %s, up %ds): the save is lost; take the backup again once Redis is up", ErrSaveFailed, runID, in.Server.RunID, in.Server.Uptime)
	}
	if !in.Persistence.HasLastSaveTime {
		return in.Persistence, errors.New("read INFO persistence: no numeric rdb_last_save_time field")
	}
	return in.Persistence, nil
}

// serverTime returns the server's clock in whole seconds (INFO server
// server_time_usec, Redis 5.0+), so that "the save started after the
// request" compares two readings of the same clock, and its run_id. ok is
// false when the server does not report its clock.
func serverTime(ctx context.Context, srv Server) (sec int64, ok bool, runID string, err error) {
	in, err := srv.Info(ctx, "server")
	if err != nil {
		return 0, false, "", fmt.Errorf("read INFO server: %w", err)
	}
	return in.Server.TimeUsec / 1e6, in.Server.HasTime, in.Server.RunID, nil
}

// Snapshot makes Redis write a fresh RDB to its dbfilename with BGSAVE and
// waits until that save, one that started after Snapshot was called, has
// finished successfully. It never uses SAVE, which would block Redis.
//
// A save already in progress may have started before the request, so it is
// waited out and ours is started after it. While an AOF rewrite runs, the
// save is scheduled with BGSAVE SCHEDULE. Completion needs all of: no save
// in progress, rdb_last_bgsave_status:ok, rdb_saves advanced (Redis 7.0+),
// and rdb_last_save_time (and LASTSAVE) not older than the request by the
// server's clock. LASTSAVE alone is not enough: it has one-second
// resolution and equals the start time until the first save.
func Snapshot(ctx context.Context, srv Server, o SnapshotOptions) (SnapshotResult, error) {
	o = o.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var res SnapshotResult
	request, haveClock, runID, err := serverTime(ctx, srv)
	if err != nil {
		return res, err
	}
	if haveClock {
		res.Requested = time.Unix(request, 0)
	}
	log := o.Log
	log.DebugContext(ctx, "snapshot: requested", "server_time", request, "server_clock", haveClock)
	poll := o.Poll
	wait := func() error {
		res.Polls++
		if err := o.Sleep(ctx, poll); err != nil {
			return err
		}
		poll = min(2*poll, o.MaxPoll)
		return nil
	}
	timeout := func(err error, what string) error {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Errorf("%s: no snapshot within %s: raise the timeout for large datasets: %w", what, o.Timeout, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}

	// Phase 1: start our BGSAVE, after any save already running.
	var (
		before    info.Persistence
		scheduled bool
	)
	for {
		if before, err = readPersistence(ctx, srv, runID); err != nil {
			return res, err
		}
		if before.BGSaveInProgress {
			log.DebugContext(ctx, "snapshot: a save is already in progress; waiting for it", "poll", poll)
			if err := wait(); err != nil {
				return res, timeout(err, "wait for the save already in progress")
			}
			continue
		}
		scheduled = before.AOFRewrite
		reply, err := srv.BGSave(ctx, scheduled)
		if err != nil {
			switch {
			case errors.Is(err, ErrSaveInProgress):
				// A save (e.g. for a replica) began between INFO and
				// BGSAVE; wait for it and try again.
				if err := wait(); err != nil {
					return res, timeout(err, "wait for the save already in progress")
				}
				continue
			case !scheduled && errors.Is(err, ErrChildActive):
				// An AOF rewrite began between INFO and BGSAVE.
				if reply, err = srv.BGSave(ctx, true); err == nil {
					scheduled = true
					break
				}
				return res, fmt.Errorf("%w: BGSAVE SCHEDULE: %w", ErrSaveFailed, err)
			case errors.Is(err, ErrNotAllowed):
				// Not a failed save: nothing was tried, and the Redis log
				// and the disk have nothing to say about it.
				return res, fmt.Errorf("%w: BGSAVE is renamed, disabled or not permitted: give the ACL user +bgsave (with +lastsave, +info and +config|get), or back up over replication, which needs no BGSAVE (source: replication, --source replication)", err)
			case ctx.Err() != nil:
				return res, timeout(err, "send BGSAVE")
			default:
				return res, fmt.Errorf("%w: BGSAVE: %w", ErrSaveFailed, err)
			}
		}
		scheduled = scheduled || strings.Contains(strings.ToLower(reply), "scheduled")
		log.DebugContext(ctx, "snapshot: BGSAVE accepted", "reply", reply, "scheduled", scheduled, "rdb_saves", before.Saves)
		break
	}

	// Phase 2: wait for our save to finish.
	sawRunning := false
	for {
		if err := wait(); err != nil {
			return res, timeout(err, "wait for BGSAVE")
		}
		now, err := readPersistence(ctx, srv, runID)
		if err != nil {
			return res, err
		}
		if now.BGSaveInProgress {
			if !sawRunning {
				log.DebugContext(ctx, "snapshot: BGSAVE child running; polling INFO persistence", "poll", poll)
			}
			sawRunning = true
			continue
		}
		// Has a save ended since ours was accepted? An accepted BGSAVE has
		// forked before replying, so the first idle reading after it means
		// ours has ended; a scheduled one must be seen to happen.
		var ended bool
		switch {
		case now.HasSaves:
			ended = now.Saves > before.Saves
		case scheduled:
			ended = sawRunning || now.LastSaveTime > before.LastSaveTime
		default:
			ended = true
		}
		if !ended {
			continue
		}
		if now.LastBGSaveStatus != "ok" {
			return res, fmt.Errorf("%w: the BGSAVE child failed (rdb_last_bgsave_status:%s); the Redis log has the cause, e.g. no space left on the device or no permission to write in its dir", ErrSaveFailed, now.LastBGSaveStatus)
		}
		if haveClock && now.LastSaveTime < request {
			// rdb_saves advanced but the last successful save is older:
			// our save failed without updating the status.
			return res, fmt.Errorf("%w: the last successful save (rdb_last_save_time %d) is older than the request (%d)", ErrSaveFailed, now.LastSaveTime, request)
		}
		ls, err := srv.LastSave(ctx)
		if err != nil {
			return res, fmt.Errorf("read LASTSAVE: %w", err)
		}
		if ls.Unix() < now.LastSaveTime {
			return res, fmt.Errorf("LASTSAVE %d disagrees with rdb_last_save_time %d: not trusting this snapshot", ls.Unix(), now.LastSaveTime)
		}
		res.LastSave = time.Unix(now.LastSaveTime, 0)
		res.COWBytes = now.LastCowSize
		log.DebugContext(ctx, "snapshot: BGSAVE finished", "rdb_last_save_time", now.LastSaveTime, "rdb_saves", now.Saves, "polls", res.Polls, "cow_bytes", now.LastCowSize)
		return res, nil
	}
}
