package restore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/restore"
)

// fakeRollout records calls and fails where told; it is the hand-written
// fake at the Rollout seam (the real ones are proven on the testbed).
type fakeRollout struct {
	failAt   restore.Step
	calls    []string
	received []byte
	stopped  bool
	staged   bool
	tick     func(restore.Step) // time passing in each step, when set
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

func (f *fakeRollout) Stage(_ context.Context, body io.Reader, _ restore.Install) error {
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
			clock := time.Unix(0, 0)
			tick := func(s restore.Step) { clock = clock.Add(took[s]) }
			j := restore.Job{
				Fetch:  func(w io.Writer) error { return nil },
				Save:   func(context.Context) error { tick(restore.StepSave); return nil },
				Loaded: func(context.Context) error { tick(restore.StepLoad); return nil },
				Check:  func(context.Context) error { tick(restore.StepCheck); return nil },
				Down:   restore.DownStep(tc.s),
				Now:    func() time.Time { return clock },
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
