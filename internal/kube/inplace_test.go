package kube

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rdbak/rdbak/restore"
)

// fakeRedis logs the admin commands an in-place restore sends.
type fakeRedis struct {
	log      *[]string
	save     string
	shutdown func() error
}

func (r *fakeRedis) ConfigGet(_ context.Context, name string) (string, error) {
	*r.log = append(*r.log, "CONFIG GET "+name)
	return r.save, nil
}

func (r *fakeRedis) ConfigSet(_ context.Context, name, value string) error {
	*r.log = append(*r.log, fmt.Sprintf("CONFIG SET %s %q", name, value))
	return nil
}

func (r *fakeRedis) ShutdownNoSave(context.Context) error {
	*r.log = append(*r.log, "SHUTDOWN NOSAVE")
	if r.shutdown != nil {
		return r.shutdown()
	}
	return nil
}

// inPlace returns an in-place restore of pod redis-0 whose SHUTDOWN makes
// the kubelet restart the container, and the log of what it does.
func inPlace(t *testing.T, version7 bool) (*InPlace, *fakeExec, *[]string) {
	t.Helper()
	cs := fake.NewClientset(redisPod("redis-0"))
	log := &[]string{}
	ex := &fakeExec{log: log, stdout: "/data/dump.rdb.pre-restore\n"}
	r := &fakeRedis{log: log, save: "3600 1 300 100", shutdown: func() error {
		obj, err := cs.Tracker().Get(podGVR, testNS, "redis-0")
		if err != nil {
			return err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		p.Status.ContainerStatuses[0].RestartCount++
		return cs.Tracker().Update(podGVR, p, testNS)
	}}
	ip := &InPlace{
		Client:    &Client{Clientset: cs, Executor: ex, PollInterval: time.Millisecond},
		Namespace: testNS, Pod: "redis-0", Container: "redis", Redis: r, Version7: version7, Timeout: 5 * time.Second,
		Save: func(context.Context) error {
			*log = append(*log, "save")
			return nil
		},
	}
	return ip, ex, log
}

var (
	saveOff  = []string{"save", "CONFIG GET save", `CONFIG SET save ""`}
	sigsOff  = []string{`CONFIG SET shutdown-on-sigterm "nosave"`, `CONFIG SET shutdown-on-sigint "nosave"`}
	saveBack = []string{`CONFIG SET save "3600 1 300 100"`}
	sigsBack = []string{`CONFIG SET shutdown-on-sigterm "default"`, `CONFIG SET shutdown-on-sigint "default"`}
)

func TestInPlaceRestore(t *testing.T) {
	tests := []struct {
		name     string
		version7 bool
		want     []string
	}{
		{"redis 7", true, slices.Concat(saveOff, sigsOff, []string{"exec", "SHUTDOWN NOSAVE"})},
		{"redis 6", false, slices.Concat(saveOff, []string{"exec", "SHUTDOWN NOSAVE"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			ip, ex, log := inPlace(t, tt.version7)
			if err := ip.Stop(ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			in := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
			got, err := ip.Install(ctx, strings.NewReader("RDB-BYTES"), in)
			if err != nil {
				t.Fatalf("Install: %v", err)
			}
			want := restore.Installed{Path: "/data/dump.rdb", Size: 9, SHA256: "ab12", PreRestore: []string{"/data/dump.rdb.pre-restore"}}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Install = %+v, want %+v", *got, want)
			}
			if err := ip.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
			if !slices.Equal(*log, tt.want) {
				t.Errorf("did\n%q\nwant\n%q", *log, tt.want)
			}
			call := ex.calls[0]
			if want := (ExecTarget{Namespace: testNS, Pod: "redis-0", Container: "redis"}); call.target != want {
				t.Errorf("exec in %+v, want %+v", call.target, want)
			}
			if len(call.cmd) != 11 || call.cmd[0] != "sh" || call.cmd[2] != installScript ||
				!slices.Equal(call.cmd[3:], []string{"rdbak", "/data", "dump.rdb", "9", "ab12", "", "", ""}) {
				t.Errorf("exec %q, want the install script with dir, name, size and sha256", call.cmd)
			}
			if call.stdin != "RDB-BYTES" {
				t.Errorf("exec stdin %q, want the body", call.stdin)
			}
		})
	}
}

func TestInPlaceStartWaitsForRestart(t *testing.T) {
	ip, _, _ := inPlace(t, true)
	ip.Redis.(*fakeRedis).shutdown = nil // Redis never restarts
	ip.Timeout = 20 * time.Millisecond
	err := ip.Start(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "redis in redis-0 to restart") {
		t.Errorf("Start = %v, want a timeout waiting for the restart", err)
	}
}

func TestInPlaceUndo(t *testing.T) {
	install := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
	stopInstall := func(in restore.Install) func(*InPlace, context.Context) error {
		return func(ip *InPlace, ctx context.Context) error {
			if err := ip.Stop(ctx); err != nil {
				return err
			}
			_, err := ip.Install(ctx, strings.NewReader("RDB-BYTES"), in)
			return err
		}
	}
	aof := install
	aof.AOF = restore.AOF{Mode: "multipart", DirName: "appendonlydir", FileName: "appendonly.aof"}
	tests := []struct {
		name    string
		setup   func(ip *InPlace, ex *fakeExec)
		run     func(*InPlace, context.Context) error
		wantErr string
		undoErr string
		want    []string
	}{
		{name: "nothing done", run: func(*InPlace, context.Context) error { return nil }},
		{
			name: "save fails",
			setup: func(ip *InPlace, _ *fakeExec) {
				ip.Save = func(context.Context) error { return errors.New("boom") }
			},
			run:     (*InPlace).Stop,
			wantErr: "save the current data first: boom",
		},
		{
			name: "install fails: save points back",
			setup: func(_ *InPlace, ex *fakeExec) {
				ex.err, ex.stderr = exitError(65), "SHA-256 00, expected ab12: nothing was replaced"
			},
			run:     stopInstall(install),
			wantErr: "install in pod prod/redis-0: command terminated with exit code 65: SHA-256 00, expected ab12: nothing was replaced",
			want:    slices.Concat(saveOff, sigsOff, []string{"exec"}, saveBack, sigsBack),
		},
		{
			name:    "aof install without AOF turned off: refused before any exec",
			run:     stopInstall(aof),
			wantErr: "not told Redis runs with appendonly yes",
			want:    slices.Concat(saveOff, sigsOff, saveBack, sigsBack),
		},
		{
			name:    "aof: turned off, and on again when nothing was installed",
			setup:   func(ip *InPlace, ex *fakeExec) { ip.AOF, ex.err = true, exitError(65) },
			run:     stopInstall(aof),
			wantErr: "exit code 65",
			want: slices.Concat(saveOff, sigsOff, []string{`CONFIG SET appendonly "no"`, "exec"}, saveBack,
				[]string{`CONFIG SET appendonly "yes"`}, sigsBack),
		},
		{
			name:    "aof installed: AOF stays off",
			setup:   func(ip *InPlace, _ *fakeExec) { ip.AOF = true },
			run:     stopInstall(aof),
			undoErr: "the AOF's",
			want:    slices.Concat(saveOff, sigsOff, []string{`CONFIG SET appendonly "no"`, "exec"}),
		},
		{
			name:    "installed: saves stay off",
			run:     stopInstall(install),
			undoErr: "restart the container",
			want:    slices.Concat(saveOff, sigsOff, []string{"exec"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			ip, ex, log := inPlace(t, true)
			if tt.setup != nil {
				tt.setup(ip, ex)
			}
			err := tt.run(ip, ctx)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("run: err = %v, want one containing %q", err, tt.wantErr)
			}
			for i := range 2 {
				err := ip.Undo(ctx)
				if tt.undoErr == "" && err != nil {
					t.Fatalf("Undo #%d: %v", i+1, err)
				}
				if tt.undoErr != "" && (err == nil || !strings.Contains(err.Error(), tt.undoErr)) {
					t.Fatalf("Undo #%d: err = %v, want one containing %q", i+1, err, tt.undoErr)
				}
			}
			if !slices.Equal(*log, tt.want) {
				t.Errorf("did\n%q\nwant\n%q", *log, tt.want)
			}
		})
	}
}

// TestInPlaceRevertAndRollback: Revert takes an installed file back
// before Start (the old file moved back, saves given back); Rollback,
// after Start, turns saves off without saving the restored data, moves
// the old file back and restarts Redis on it.
func TestInPlaceRevertAndRollback(t *testing.T) {
	in := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
	revert := []string{"sh", "-c", revertScript, "rdbak", "/data", "dump.rdb"}

	ip, ex, log := inPlace(t, true)
	ctx := t.Context()
	if err := ip.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ip.Install(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
		t.Fatal(err)
	}
	if err := ip.Revert(ctx, in); err != nil {
		t.Fatalf("Revert: %v", err)
	}
	if want := slices.Concat(saveOff, sigsOff, []string{"exec", "exec"}, saveBack, sigsBack); !slices.Equal(*log, want) {
		t.Errorf("Revert did\n%q\nwant\n%q", *log, want)
	}
	if got := ex.calls[1].cmd; !slices.Equal(got, revert) {
		t.Errorf("Revert exec %q, want the revert script with dir and name", got)
	}

	ip, ex, log = inPlace(t, true)
	if err := ip.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ip.Install(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
		t.Fatal(err)
	}
	if err := ip.Start(ctx); err != nil {
		t.Fatal(err)
	}
	*log = nil
	if err := ip.Rollback(ctx, in); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if want := slices.Concat(saveOff[1:], sigsOff, []string{"exec", "SHUTDOWN NOSAVE"}); !slices.Equal(*log, want) {
		t.Errorf("Rollback did\n%q\nwant\n%q (no save of the restored data)", *log, want)
	}
	if got := ex.calls[1].cmd; !slices.Equal(got, revert) {
		t.Errorf("Rollback exec %q, want the revert script with dir and name", got)
	}
}
