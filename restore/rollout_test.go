package restore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/restore"
)

// fakeRollout records calls and fails where told; it is the hand-written
// fake at the Rollout seam (the real ones are proven on the testbed).
type fakeRollout struct {
	failAt   restore.Step
	calls    []string
	received []byte
	stopped  bool
}

func (f *fakeRollout) step(s restore.Step) error {
	f.calls = append(f.calls, string(s))
	if f.failAt == s {
		return errors.New("boom at " + string(s))
	}
	return nil
}

func (f *fakeRollout) Stop(context.Context) error {
	f.stopped = true
	return f.step(restore.StepStop)
}

func (f *fakeRollout) Install(_ context.Context, body io.Reader, _ restore.Install) (*restore.Installed, error) {
	b, err := io.ReadAll(body)
	f.received = b
	if serr := f.step(restore.StepInstall); err == nil {
		err = serr
	}
	return &restore.Installed{}, err
}

func (f *fakeRollout) Start(context.Context) error { return f.step(restore.StepStart) }

func (f *fakeRollout) Undo(context.Context) error {
	f.calls = append(f.calls, "undo")
	f.stopped = false
	return nil
}

func TestApply(t *testing.T) {
	data := []byte("REDIS0010...")
	okFetch := func(w io.Writer) error { _, err := w.Write(data); return err }
	badFetch := func(w io.Writer) error { w.Write(data[:4]); return errors.New("CRC mismatch") }
	okCheck := func(context.Context) error { return nil }
	tests := []struct {
		name      string
		failAt    restore.Step
		fetch     func(io.Writer) error
		check     func(context.Context) error
		wantCalls string
		wantErr   string
	}{
		{"success", "", okFetch, okCheck, "stop install start", ""},
		{"stop fails", restore.StepStop, okFetch, okCheck, "stop undo", "stop Redis"},
		{"install fails", restore.StepInstall, okFetch, okCheck, "stop install undo", "live data is unchanged"},
		{"stream fails", "", badFetch, okCheck, "stop install undo", "CRC mismatch"},
		{"start fails", restore.StepStart, okFetch, okCheck, "stop install start undo", ".pre-restore"},
		{"check fails", "", okFetch, func(context.Context) error { return errors.New("3 keys missing") }, "stop install start", "3 keys missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRollout{failAt: tt.failAt}
			_, err := restore.Apply(t.Context(), f, restore.Install{}, tt.fetch, tt.check, nil)
			if got := strings.Join(f.calls, " "); got != tt.wantCalls {
				t.Errorf("calls = %q, want %q", got, tt.wantCalls)
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

// TestApplyCancelledStillUndoes: Ctrl-C during the install must still put
// the workload back, on a context of its own.
func TestApplyCancelledStillUndoes(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f := &fakeRollout{}
	fetch := func(w io.Writer) error { cancel(); <-ctx.Done(); return ctx.Err() }
	if _, err := restore.Apply(ctx, f, restore.Install{}, fetch, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if f.stopped || !strings.Contains(strings.Join(f.calls, " "), "undo") {
		t.Fatalf("calls = %v: the workload was not put back", f.calls)
	}
}
