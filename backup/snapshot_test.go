package backup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/redis/info"
)

// fakeRedis simulates the persistence state machine of a Redis server at the
// Server seam: a save takes a number of polls, then ends with a status.
type fakeRedis struct {
	clock      int64 // server seconds; advances one per poll
	noSaves    bool  // Redis < 7.0: no rdb_saves field
	saves      int64
	lastSave   int64
	status     string
	running    int  // polls left for the running save
	runningOK  bool // outcome of the running save
	aof        int  // polls left for a running AOF rewrite
	scheduled  bool
	bgsaveErrs []error // errors returned by the next BGSAVE calls
	childFails bool    // our save's child fails
	saveLen    int     // polls a save takes
	restartAt  int     // restart (new run_id, state lost) at this tick; 0 never
	ticks      int
	runID      string

	calls []string
}

func newFake() *fakeRedis {
	return &fakeRedis{clock: 1000, lastSave: 1000, status: "ok", saveLen: 2, runID: "first"}
}

func (f *fakeRedis) tick() {
	f.clock++
	f.ticks++
	if f.ticks == f.restartAt {
		*f = fakeRedis{clock: f.clock, lastSave: f.clock, status: "ok", saveLen: f.saveLen, runID: "restarted", calls: f.calls, ticks: f.ticks}
		return
	}
	if f.aof > 0 {
		f.aof--
		if f.aof == 0 && f.scheduled {
			f.scheduled = false
			f.start(!f.childFails)
		}
	}
	if f.running > 0 {
		f.running--
		if f.running == 0 {
			f.saves++
			if f.runningOK {
				f.lastSave = f.clock
				f.status = "ok"
			} else {
				f.status = "err"
			}
		}
	}
}

func (f *fakeRedis) start(ok bool) { f.running, f.runningOK = f.saveLen, ok }

// The refusals as the adapter returns them: Redis's text, classified.
var (
	errInProgress = fmt.Errorf("ERR Background save already in progress: %w", ErrSaveInProgress)
	errChild      = fmt.Errorf("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.: %w", ErrChildActive)
)

func (f *fakeRedis) Info(_ context.Context, sections ...string) (*info.Info, error) {
	section := strings.Join(sections, " ")
	f.calls = append(f.calls, "INFO "+section)
	server := map[string]string{"server_time_usec": strconv.FormatInt(f.clock*1e6+123, 10), "run_id": f.runID}
	switch section {
	case "server":
		return info.FromFields(server), nil
	case "server persistence":
		kv := map[string]string{
			"rdb_bgsave_in_progress":  b2s(f.running > 0),
			"aof_rewrite_in_progress": b2s(f.aof > 0),
			"rdb_last_save_time":      strconv.FormatInt(f.lastSave, 10),
			"rdb_last_bgsave_status":  f.status,
			"rdb_last_cow_size":       "4096",
		}
		if !f.noSaves {
			kv["rdb_saves"] = strconv.FormatInt(f.saves, 10)
		}
		maps.Copy(kv, server)
		return info.FromFields(kv), nil
	}
	return nil, errors.New("unexpected section " + section)
}

func b2s(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func (f *fakeRedis) BGSave(_ context.Context, schedule bool) (string, error) {
	cmd := "BGSAVE"
	if schedule {
		cmd += " SCHEDULE"
	}
	f.calls = append(f.calls, cmd)
	if len(f.bgsaveErrs) > 0 {
		e := f.bgsaveErrs[0]
		f.bgsaveErrs = f.bgsaveErrs[1:]
		if e != nil {
			return "", e
		}
	}
	if f.running > 0 {
		return "", errInProgress
	}
	if f.aof > 0 {
		if !schedule {
			return "", errChild
		}
		f.scheduled = true
		return "Background saving scheduled", nil
	}
	f.start(!f.childFails)
	return "Background saving started", nil
}

func (f *fakeRedis) LastSave(context.Context) (time.Time, error) {
	f.calls = append(f.calls, "LASTSAVE")
	return time.Unix(f.lastSave, 0), nil
}

func (f *fakeRedis) ConfigGet(context.Context, string) (string, error) { return "", nil }

func (f *fakeRedis) opts() SnapshotOptions {
	return SnapshotOptions{Sleep: func(ctx context.Context, d time.Duration) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f.tick()
		return nil
	}}
}

func (f *fakeRedis) count(cmd string) int {
	n := 0
	for _, c := range f.calls {
		if c == cmd {
			n++
		}
	}
	return n
}

func TestSnapshot(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(f *fakeRedis)
		wantErr    string
		wantBG     int // plain BGSAVE calls
		wantSched  int // BGSAVE SCHEDULE calls
		wantSaves  int64
		checkAfter func(t *testing.T, f *fakeRedis, r SnapshotResult)
	}{
		{name: "idle server", wantBG: 1, wantSaves: 1},
		{name: "redis 6 without rdb_saves", setup: func(f *fakeRedis) { f.noSaves = true }, wantBG: 1, wantSaves: 1},
		{
			name:      "save in progress is waited out, then ours starts",
			setup:     func(f *fakeRedis) { f.start(true); f.running = 3 },
			wantBG:    1,
			wantSaves: 2,
			checkAfter: func(t *testing.T, f *fakeRedis, _ SnapshotResult) {
				// The BGSAVE must come after the earlier save ended.
				for i, c := range f.calls {
					if c == "BGSAVE" && i < 4 {
						t.Errorf("BGSAVE sent before the running save ended: %v", f.calls)
					}
				}
			},
		},
		{name: "AOF rewrite running: BGSAVE SCHEDULE", setup: func(f *fakeRedis) { f.aof = 3 }, wantSched: 1, wantSaves: 1},
		{
			name: "AOF rewrite starts between INFO and BGSAVE",
			setup: func(f *fakeRedis) {
				f.bgsaveErrs = []error{errChild}
			},
			wantBG:    1, // refused, then retried as BGSAVE SCHEDULE
			wantSched: 1,
			wantSaves: 1,
		},
		{
			name:      "redis 6 scheduled save",
			setup:     func(f *fakeRedis) { f.noSaves = true; f.aof = 2 },
			wantSched: 1,
			wantSaves: 1,
		},
		{
			name:      "save starts between INFO and BGSAVE",
			setup:     func(f *fakeRedis) { f.bgsaveErrs = []error{errInProgress} },
			wantBG:    2,
			wantSaves: 1,
		},
		{
			name:    "child fails",
			setup:   func(f *fakeRedis) { f.childFails = true },
			wantErr: "rdb_last_bgsave_status:err",
			wantBG:  1,
		},
		{
			name: "fork refused: Redis's message is returned",
			setup: func(f *fakeRedis) {
				f.bgsaveErrs = []error{errors.New("ERR Background save failed: fork: Cannot allocate memory")}
			},
			wantErr: "Cannot allocate memory",
			wantBG:  1,
		},
		{
			// The restarted Redis has no save running and rdb_saves back at
			// 0: without the run_id check this waited until the timeout.
			name:    "Redis restarts during the save",
			setup:   func(f *fakeRedis) { f.saveLen = 5; f.restartAt = 2 },
			wantErr: "Redis restarted while rdbak waited for its save (run_id first, now restarted",
			wantBG:  1,
		},
		{
			name: "same second as startup: LASTSAVE alone would not move",
			setup: func(f *fakeRedis) {
				f.saveLen = 1
				f.lastSave = f.clock + 1 // the save ends in the second LASTSAVE already shows
			},
			wantBG:    1,
			wantSaves: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			if tt.setup != nil {
				tt.setup(f)
			}
			startSaves := f.saves
			res, err := Snapshot(t.Context(), f, f.opts())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrSaveFailed) {
					t.Fatalf("err = %v, want ErrSaveFailed containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Snapshot: %v (calls %v)", err, f.calls)
			}
			if got := f.count("BGSAVE"); got != tt.wantBG {
				t.Errorf("BGSAVE calls = %d, want %d (%v)", got, tt.wantBG, f.calls)
			}
			if got := f.count("BGSAVE SCHEDULE"); got != tt.wantSched {
				t.Errorf("BGSAVE SCHEDULE calls = %d, want %d (%v)", got, tt.wantSched, f.calls)
			}
			if tt.wantErr == "" {
				if got := f.saves - startSaves; got != tt.wantSaves {
					t.Errorf("saves completed = %d, want %d", got, tt.wantSaves)
				}
				if f.running > 0 {
					t.Errorf("returned while a save was still running")
				}
				if res.LastSave.Unix() != f.lastSave {
					t.Errorf("LastSave = %d, want %d", res.LastSave.Unix(), f.lastSave)
				}
				if res.COWBytes != 4096 {
					t.Errorf("COWBytes = %d, want 4096", res.COWBytes)
				}
			}
			if tt.checkAfter != nil {
				tt.checkAfter(t, f, res)
			}
		})
	}
}

func TestSnapshotTimeout(t *testing.T) {
	f := newFake()
	f.saveLen = 1 << 30 // never ends
	o := f.opts()
	o.Timeout = 20 * time.Millisecond
	inner := o.Sleep
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		if err := sleep(ctx, time.Millisecond); err != nil {
			return err
		}
		return inner(ctx, d)
	}
	_, err := Snapshot(t.Context(), f, o)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "raise the timeout") {
		t.Fatalf("err = %v, want a deadline error with a hint", err)
	}
}

func TestSnapshotCancel(t *testing.T) {
	f := newFake()
	f.saveLen = 1 << 30
	ctx, cancel := context.WithCancel(t.Context())
	o := f.opts()
	inner := o.Sleep
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		if f.count("BGSAVE") > 0 {
			cancel()
		}
		return inner(ctx, d)
	}
	if _, err := Snapshot(ctx, f, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
