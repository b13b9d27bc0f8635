package restore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdbak/rdbak/restore"
)

// fakeRollout records calls and fails where told; it is the hand-written
// fake at the Rollout seam (the real ones are proven on the testbed).
type fakeRollout struct {
	// stopOnCancel makes Stage end when its context is cancelled, as
	// the real ones do (the exec stream is cut).
	stopOnCancel bool
	failAt       restore.Step
	notSwapped   bool // Commit's failure is a *restore.NotSwappedError
	calls        []string
	received     []byte
	stopped      bool
	staged       bool
	tick         func(restore.Step) // time passing in each step, when set
}

func (f *fakeRollout) step(s restore.Step) error {
	f.calls = append(f.calls, string(s))
	if f.tick != nil {
		f.tick(s)
	}
	if f.failAt == s {
		return errors.New("boom at " + string(s))
	}
	return nil
}

func (f *fakeRollout) Stage(ctx context.Context, body io.Reader, _ restore.Install) error {
	if f.stopOnCancel {
		stop := context.AfterFunc(ctx, func() { body.(io.Closer).Close() })
		defer stop()
	}
	b, err := io.ReadAll(body)
	f.received, f.staged = b, true
	if serr := f.step(restore.StepStage); err == nil {
		err = serr
	}
	return err
}

func (f *fakeRollout) Stop(context.Context) error {
	f.stopped = true
	return f.step(restore.StepStop)
}

func (f *fakeRollout) Commit(context.Context, restore.Install) (*restore.Installed, error) {
	if err := f.step(restore.StepInstall); err != nil {
		if f.notSwapped {
			err = &restore.NotSwappedError{Err: err}
		}
		return nil, err
	}
	f.staged = false
	return &restore.Installed{}, nil
}

func (f *fakeRollout) Start(context.Context) error { return f.step(restore.StepStart) }

func (f *fakeRollout) Undo(context.Context) error {
	f.calls = append(f.calls, "undo")
	f.stopped, f.staged = false, false
	return nil
}

func TestApply(t *testing.T) {
	data := []byte("REDIS0010...")
	okFetch := func(w io.Writer) error { _, err := w.Write(data); return err }
	badFetch := func(w io.Writer) error { w.Write(data[:4]); return errors.New("CRC mismatch") }
	okCheck := func(context.Context) error { return nil }
	okSave := func(context.Context) error { return nil }
	tests := []struct {
		name      string
		failAt    restore.Step
		fetch     func(io.Writer) error
		save      func(context.Context) error
		check     func(context.Context) error
		wantCalls string
		wantErr   string
	}{
		{"success", "", okFetch, okSave, okCheck, "stage stop install start", ""},
		{"stage fails", restore.StepStage, okFetch, okSave, okCheck, "stage undo", "live data is unchanged"},
		{"stream fails", "", badFetch, okSave, okCheck, "stage undo", "CRC mismatch"},
		{"save fails", "", okFetch, func(context.Context) error { return errors.New("BGSAVE failed") }, okCheck, "stage undo", "live data is unchanged"},
		{"stop fails", restore.StepStop, okFetch, okSave, okCheck, "stage stop undo", "stop Redis"},
		{"install fails", restore.StepInstall, okFetch, okSave, okCheck, "stage stop install undo", "install the staged backup"},
		{"start fails", restore.StepStart, okFetch, okSave, okCheck, "stage stop install start undo", ".pre-restore"},
		{"check fails", "", okFetch, okSave, func(context.Context) error { return errors.New("3 keys missing") }, "stage stop install start", "3 keys missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRollout{failAt: tt.failAt}
			_, _, err := restore.Apply(t.Context(), f, restore.Job{Fetch: tt.fetch, Save: tt.save, Check: tt.check, Down: restore.StepStop})
			if got := strings.Join(f.calls, " "); got != tt.wantCalls {
				t.Errorf("calls = %q, want %q", got, tt.wantCalls)
			}
			if f.staged {
				t.Error("a staged file was left behind")
			}
			if tt.wantErr == "" {
				if err != nil || !bytes.Equal(f.received, data) {
					t.Fatalf("err = %v, received %q", err, f.received)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestApplyRecover: a failed staging or save is followed, after Undo has
// removed the staged files, by Recover (Redis, whose BGSAVE may have failed
// for the space they took, saves again); a failure once Redis is stopped
// is not, and Recover's own failure is reported.
func TestApplyRecover(t *testing.T) {
	fetch := func(w io.Writer) error { _, err := w.Write([]byte("REDIS0010")); return err }
	failSave := func(context.Context) error { return errors.New("BGSAVE failed: no space left") }
	okSave := func(context.Context) error { return nil }
	tests := []struct {
		name       string
		failAt     restore.Step
		save       func(context.Context) error
		recoverErr error
		wantCalls  string
		wantErr    []string
	}{
		{"save fails", "", failSave, nil, "stage undo recover", []string{"no space left"}},
		{"stage fails", restore.StepStage, okSave, nil, "stage undo recover", []string{"boom at stage"}},
		{"recover fails", "", failSave, errors.New("MISCONF stays"), "stage undo recover", []string{"no space left", "MISCONF stays"}},
		{"stop fails", restore.StepStop, okSave, nil, "stage stop undo", []string{"boom at stop"}},
		{"success", "", okSave, nil, "stage stop install start", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRollout{failAt: tt.failAt}
			rec := func(context.Context) error {
				if f.staged {
					t.Error("Recover ran before Undo removed the staged file")
				}
				f.calls = append(f.calls, "recover")
				return tt.recoverErr
			}
			_, _, err := restore.Apply(t.Context(), f, restore.Job{Fetch: fetch, Save: tt.save, SaveTakes: -1, Recover: rec, Down: restore.StepStop})
			if got := strings.Join(f.calls, " "); got != tt.wantCalls {
				t.Errorf("calls = %q, want %q", got, tt.wantCalls)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
			if tt.wantErr == nil && err != nil {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// TestApplyInstallFails: a failed swap says the live data is unchanged
// only when Commit is certain nothing was swapped in.
func TestApplyInstallFails(t *testing.T) {
	fetch := func(w io.Writer) error { _, err := w.Write([]byte("REDIS0010")); return err }
	for _, notSwapped := range []bool{true, false} {
		f := &fakeRollout{failAt: restore.StepInstall, notSwapped: notSwapped}
		_, _, err := restore.Apply(t.Context(), f, restore.Job{Fetch: fetch, Down: restore.StepStop})
		if err == nil || !strings.Contains(err.Error(), "boom at install") {
			t.Fatalf("notSwapped %v: err = %v, want the Commit error", notSwapped, err)
		}
		if said := strings.Contains(err.Error(), "live data is unchanged"); said != notSwapped {
			t.Errorf("notSwapped %v: err = %q says the live data is unchanged: %v", notSwapped, err, said)
		}
		if got := strings.Join(f.calls, " "); got != "stage stop install undo" {
			t.Errorf("notSwapped %v: calls = %q, want the workload put back", notSwapped, got)
		}
	}
}

// TestApplyTimings: the downtime counts from the strategy's down step to
// the end of the load, not the staging before it or the check after it.
func TestApplyTimings(t *testing.T) {
	took := map[restore.Step]time.Duration{
		restore.StepStage: 7 * time.Second, restore.StepSave: time.Second, restore.StepStop: 2 * time.Second,
		restore.StepInstall: 100 * time.Millisecond, restore.StepStart: 3 * time.Second, restore.StepLoad: 4 * time.Second,
		restore.StepCheck: 500 * time.Millisecond,
	}
	for _, tc := range []struct {
		s    restore.Strategy
		want time.Duration
	}{
		{restore.Offline, 9100 * time.Millisecond},
		{restore.InPlace, 7 * time.Second},
	} {
		t.Run(string(tc.s), func(t *testing.T) {
			var mu sync.Mutex // the stage and the save run in goroutines of their own
			clock := time.Unix(0, 0)
			tick := func(s restore.Step) { mu.Lock(); clock = clock.Add(took[s]); mu.Unlock() }
			j := restore.Job{
				Fetch:  func(w io.Writer) error { return nil },
				Save:   func(context.Context) error { tick(restore.StepSave); return nil },
				Loaded: func(context.Context) error { tick(restore.StepLoad); return nil },
				Check:  func(context.Context) error { tick(restore.StepCheck); return nil },
				Down:   restore.DownStep(tc.s),
				Now:    func() time.Time { mu.Lock(); defer mu.Unlock(); return clock },
			}
			_, tm, err := restore.Apply(t.Context(), &fakeRollout{tick: tick}, j)
			if err != nil {
				t.Fatal(err)
			}
			if tm.Downtime != tc.want {
				t.Errorf("downtime %v, want %v (%+v)", tm.Downtime, tc.want, tm.Steps)
			}
			if want := 17600 * time.Millisecond; tm.Total != want {
				t.Errorf("total %v, want %v", tm.Total, want)
			}
			if len(tm.Steps) != 7 {
				t.Errorf("steps %+v, want 7", tm.Steps)
			}
		})
	}
}

// TestApplyCancelledStillUndoes: Ctrl-C during the stage must still put
// the workload back and remove the staged file, on a context of its own.
func TestApplyCancelledStillUndoes(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f := &fakeRollout{}
	fetch := func(w io.Writer) error { cancel(); <-ctx.Done(); return ctx.Err() }
	if _, _, err := restore.Apply(ctx, f, restore.Job{Fetch: fetch}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if f.stopped || f.staged || !strings.Contains(strings.Join(f.calls, " "), "undo") {
		t.Fatalf("calls = %v: the workload was not put back", f.calls)
	}
}

// TestApplySavesWhileStaging: the save that keeps the current data as
// .pre-restore overlaps the staging: with no estimate of its length it
// starts with the staging, with a long one as soon as the staging's rate
// is known, and with none after the staging; a failure of either cancels
// the other and Apply waits for both before it puts things back.
func TestApplySavesWhileStaging(t *testing.T) {
	const chunk = 1 << 10
	// stream writes until Save has started, then 8 KiB more: it fails
	// after a while if the save does not start during the staging.
	stream := func(started <-chan struct{}) func(io.Writer) error {
		return func(w io.Writer) error {
			deadline := time.After(30 * time.Second)
			for {
				select {
				case <-started:
					_, err := w.Write(make([]byte, 8*chunk))
					return err
				case <-deadline:
					return errors.New("the save did not start during the staging")
				case <-time.After(10 * time.Millisecond):
				}
				if _, err := w.Write(make([]byte, chunk)); err != nil {
					return err
				}
			}
		}
	}
	for _, takes := range []time.Duration{-1, time.Hour} {
		t.Run(fmt.Sprint("takes ", takes), func(t *testing.T) {
			started := make(chan struct{})
			f := &fakeRollout{}
			save := func(context.Context) error { close(started); return nil }
			j := restore.Job{Fetch: stream(started), Save: save, SaveTakes: takes, Install: restore.Install{Size: 1 << 20}, Down: restore.StepStop}
			_, tm, err := restore.Apply(t.Context(), f, j)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(f.calls, " "); got != "stage stop install start" {
				t.Errorf("calls = %q", got)
			}
			// The stream fails unless the save starts during the staging;
			// the two then end in either order, both before the stop.
			if len(tm.Steps) != 5 || !slices.ContainsFunc(tm.Steps[:2], func(s restore.Timing) bool { return s.Step == restore.StepSave }) ||
				!slices.ContainsFunc(tm.Steps[:2], func(s restore.Timing) bool { return s.Step == restore.StepStage }) {
				t.Errorf("steps %+v: want the save and the stage, then the stop", tm.Steps)
			}
		})
	}
	// The staging's length is FetchSize when set (a compressed stream),
	// else the RDB's.
	for name, sizes := range map[string][2]int64{"after the staging": {3 * chunk, 0}, "after a compressed staging": {chunk, 3 * chunk}} {
		t.Run(name, func(t *testing.T) {
			f := &fakeRollout{}
			var stagedFirst bool
			save := func(context.Context) error { stagedFirst = len(f.received) == 3*chunk; return nil }
			fetch := func(w io.Writer) error {
				for range 3 {
					time.Sleep(300 * time.Millisecond)
					if _, err := w.Write(make([]byte, chunk)); err != nil {
						return err
					}
				}
				return nil
			}
			j := restore.Job{Fetch: fetch, Save: save, SaveTakes: 0, Install: restore.Install{Size: sizes[0]}, FetchSize: sizes[1]}
			if _, _, err := restore.Apply(t.Context(), f, j); err != nil {
				t.Fatal(err)
			}
			if !stagedFirst {
				t.Error("a save expected to take no time started before the staging ended")
			}
		})
	}
	t.Run("save fails", func(t *testing.T) {
		f := &fakeRollout{stopOnCancel: true}
		endless := func(w io.Writer) error {
			for {
				if _, err := w.Write(make([]byte, chunk)); err != nil {
					return err
				}
				time.Sleep(time.Millisecond)
			}
		}
		save := func(context.Context) error { return errors.New("BGSAVE failed: MISCONF") }
		_, _, err := restore.Apply(t.Context(), f, restore.Job{Fetch: endless, Save: save, SaveTakes: -1})
		if err == nil || !strings.Contains(err.Error(), "save the current data") || !strings.Contains(err.Error(), "MISCONF") || strings.Contains(err.Error(), "stage the backup") {
			t.Fatalf("err = %v, want the save's failure alone", err)
		}
		if got := strings.Join(f.calls, " "); got != "stage undo" || f.staged {
			t.Errorf("calls = %q, staged %v: want the staging cut and undone", got, f.staged)
		}
	})
	t.Run("stage fails", func(t *testing.T) {
		f := &fakeRollout{failAt: restore.StepStage}
		var saveEnded atomic.Bool
		save := func(ctx context.Context) error { <-ctx.Done(); saveEnded.Store(true); return ctx.Err() }
		fetch := func(w io.Writer) error { _, err := w.Write([]byte("REDIS")); return err }
		_, _, err := restore.Apply(t.Context(), f, restore.Job{Fetch: fetch, Save: save, SaveTakes: -1})
		if err == nil || !strings.Contains(err.Error(), "stage the backup") || strings.Contains(err.Error(), "save the current data") {
			t.Fatalf("err = %v, want the staging's failure alone", err)
		}
		if !saveEnded.Load() {
			t.Error("Apply returned before the cancelled save did")
		}
		if got := strings.Join(f.calls, " "); got != "stage undo" {
			t.Errorf("calls = %q", got)
		}
	})
}

// TestSaveDue: the save starts once the rest of the staging, at its rate
// so far, takes no longer than the save is expected to.
func TestSaveDue(t *testing.T) {
	for _, tc := range []struct {
		size, staged   int64
		elapsed, takes time.Duration
		want           bool
	}{
		{100, 0, time.Second, time.Hour, false}, // no rate yet
		{100, 50, 0, time.Hour, false},          // no rate yet
		{100, 50, 10 * time.Second, 10 * time.Second, true},
		{100, 50, 10 * time.Second, 9 * time.Second, false},
		{100, 80, 8 * time.Second, 2 * time.Second, true},
		{100, 100, time.Second, 0, true}, // staged whole
		{1 << 30, 1 << 20, time.Second, time.Minute, false},
	} {
		if got := restore.SaveDue(tc.size, tc.staged, tc.elapsed, tc.takes); got != tc.want {
			t.Errorf("SaveDue(%d, %d, %v, %v) = %v, want %v", tc.size, tc.staged, tc.elapsed, tc.takes, got, tc.want)
		}
	}
}
