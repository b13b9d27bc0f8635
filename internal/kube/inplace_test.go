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

	"github.com/rdbak/rdbak/internal/kubeapi/kubeapitest"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rdbak/rdbak/restore"
)

// fakeRedis logs the admin commands an in-place restore sends.
type fakeRedis struct {
	log      *[]string
	save     string
	shutdown func() error
	setErr   error // CONFIG SET fails with it, e.g. NOPERM
}

func (r *fakeRedis) ConfigGet(_ context.Context, name string) (string, error) {
	*r.log = append(*r.log, "CONFIG GET "+name)
	return r.save, nil
}

func (r *fakeRedis) ConfigSet(_ context.Context, name, value string) error {
	*r.log = append(*r.log, fmt.Sprintf("CONFIG SET %s %q", name, value))
	return r.setErr
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
	r := &fakeRedis{log: log, save: "3600 1 300 100", shutdown: restarter(cs, "redis-0")}
	ip := &InPlace{
		Client:    &Client{API: kubeapitest.Wrap(cs), Executor: ex, PollInterval: time.Millisecond},
		Namespace: testNS, Pod: "redis-0", Container: "redis", Redis: r, Version7: version7, Timeout: 5 * time.Second,
	}
	return ip, ex, log
}

// restarter is what the kubelet does when Redis in pod exits: it restarts
// the container, which bumps its restart count.
func restarter(cs *fake.Clientset, pod string) func() error {
	return func() error {
		obj, err := cs.Tracker().Get(podGVR, testNS, pod)
		if err != nil {
			return err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		p.Status.ContainerStatuses[0].RestartCount++
		return cs.Tracker().Update(podGVR, p, testNS)
	}
}

var (
	saveOff  = []string{"CONFIG GET save", `CONFIG SET save ""`}
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
		{"redis 7", true, slices.Concat([]string{"exec"}, saveOff, sigsOff, []string{"exec", "SHUTDOWN NOSAVE"})},
		{"redis 6", false, slices.Concat([]string{"exec"}, saveOff, []string{"exec", "SHUTDOWN NOSAVE"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			ip, ex, log := inPlace(t, tt.version7)
			in := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
			if err := ip.Stage(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			if err := ip.Stop(ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			got, err := ip.Commit(ctx, in)
			if err != nil {
				t.Fatalf("Commit: %v", err)
			}
			want := restore.Installed{Path: "/data/dump.rdb", Size: 9, SHA256: "ab12", PreRestore: []string{"/data/dump.rdb.pre-restore"}}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Commit = %+v, want %+v", *got, want)
			}
			if err := ip.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
			if !slices.Equal(*log, tt.want) {
				t.Errorf("did\n%q\nwant\n%q", *log, tt.want)
			}
			stage, commit := ex.calls[0], ex.calls[1]
			if want := (ExecTarget{Namespace: testNS, Pod: "redis-0", Container: "redis"}); stage.target != want || commit.target != want {
				t.Errorf("exec in %+v and %+v, want %+v", stage.target, commit.target, want)
			}
			if len(stage.cmd) != 11 || stage.cmd[0] != "sh" || stage.cmd[2] != stageScript ||
				!slices.Equal(stage.cmd[3:], []string{"rdbak", "/data", "dump.rdb", "9", "ab12", "", "", ""}) {
				t.Errorf("exec %q, want the stage script with dir, name, size, sha256 and no AOF", stage.cmd)
			}
			if stage.stdin != "RDB-BYTES" {
				t.Errorf("exec stdin %q, want the body", stage.stdin)
			}
			if commit.cmd[2] != commitScript || !slices.Equal(commit.cmd[3:], []string{"rdbak", "/data", "dump.rdb", "", "", ""}) {
				t.Errorf("exec %q, want the commit script with dir, name and no AOF", commit.cmd)
			}
		})
	}
}

// TestInPlaceRestoreAOF: with appendonly yes the AOF is staged with the
// dump while Redis serves, turned off at Stop, and swapped in at Commit;
// both previous files are kept.
func TestInPlaceRestoreAOF(t *testing.T) {
	ctx := t.Context()
	ip, ex, log := inPlace(t, true)
	ip.AOF = true
	ex.stdout = "/data/appendonlydir.pre-restore\n/data/dump.rdb.pre-restore\n"
	in := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12",
		AOF: restore.AOF{Mode: "multipart", DirName: "appendonlydir", FileName: "appendonly.aof"}}
	if err := ip.Stage(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if want := []string{"exec"}; !slices.Equal(*log, want) {
		t.Errorf("after Stage did %q, want %q: nothing may change in Redis while it stages", *log, want)
	}
	if err := ip.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	got, err := ip.Commit(ctx, in)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	want := restore.Installed{Path: "/data/dump.rdb", Size: 9, SHA256: "ab12",
		PreRestore: []string{"/data/appendonlydir.pre-restore", "/data/dump.rdb.pre-restore"},
		AOFFiles:   []string{"/data/appendonlydir/appendonly.aof.1.base.rdb", "/data/appendonlydir/appendonly.aof.manifest"}}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("Commit = %+v, want %+v", *got, want)
	}
	if want := slices.Concat([]string{"exec"}, saveOff, sigsOff, []string{`CONFIG SET appendonly "no"`, "exec"}); !slices.Equal(*log, want) {
		t.Errorf("did\n%q\nwant\n%q", *log, want)
	}
	stage, commit := ex.calls[0], ex.calls[1]
	if !slices.Equal(stage.cmd[3:], []string{"rdbak", "/data", "dump.rdb", "9", "ab12", "multipart", "appendonlydir", "appendonly.aof"}) {
		t.Errorf("stage exec %q, want the AOF mode and names", stage.cmd)
	}
	if !slices.Equal(commit.cmd[3:], []string{"rdbak", "/data", "dump.rdb", "multipart", "appendonlydir", "appendonly.aof"}) {
		t.Errorf("commit exec %q, want the AOF mode and names", commit.cmd)
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
	stage := func(in restore.Install) func(*InPlace, context.Context) error {
		return func(ip *InPlace, ctx context.Context) error {
			return ip.Stage(ctx, strings.NewReader("RDB-BYTES"), in)
		}
	}
	// stageStopCommit runs the rollout up to Commit, which fails with
	// commitErr if not nil.
	stageStopCommit := func(in restore.Install, commitErr error) func(*InPlace, context.Context) error {
		return func(ip *InPlace, ctx context.Context) error {
			if err := stage(in)(ip, ctx); err != nil {
				return err
			}
			if err := ip.Stop(ctx); err != nil {
				return err
			}
			ip.Client.Executor.(*fakeExec).err = commitErr
			_, err := ip.Commit(ctx, in)
			return err
		}
	}
	aof := install
	aof.AOF = restore.AOF{Mode: "multipart", DirName: "appendonlydir", FileName: "appendonly.aof"}
	aofOff, aofOn := []string{`CONFIG SET appendonly "no"`}, []string{`CONFIG SET appendonly "yes"`}
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
			name: "stage fails: staged file removed, saves untouched",
			setup: func(_ *InPlace, ex *fakeExec) {
				ex.err, ex.stderr = exitError(65), "SHA-256 00, expected ab12: nothing was replaced"
			},
			run:     stage(install),
			wantErr: "stage: in pod prod/redis-0: command terminated with exit code 65: SHA-256 00, expected ab12: nothing was replaced",
			want:    []string{"exec", "exec"},
		},
		{
			name:    "aof stage without AOF turned off: refused before any exec",
			run:     stage(aof),
			wantErr: "not told Redis runs with appendonly yes",
		},
		{
			name:    "commit fails: save points back",
			run:     stageStopCommit(install, exitError(66)),
			wantErr: "install: in pod prod/redis-0: command terminated with exit code 66",
			want:    slices.Concat([]string{"exec"}, saveOff, sigsOff, []string{"exec", "exec"}, saveBack, sigsBack),
		},
		{
			name: "aof stage fails: staged files removed, AOF untouched",
			setup: func(ip *InPlace, ex *fakeExec) {
				ip.AOF, ex.err = true, exitError(65)
			},
			run:     stage(aof),
			wantErr: "exit code 65",
			want:    []string{"exec", "exec"},
		},
		{
			name:    "aof: turned off, and on again when nothing was installed",
			setup:   func(ip *InPlace, _ *fakeExec) { ip.AOF = true },
			run:     stageStopCommit(aof, exitError(66)),
			wantErr: "exit code 66",
			want:    slices.Concat([]string{"exec"}, saveOff, sigsOff, aofOff, []string{"exec", "exec"}, saveBack, aofOn, sigsBack),
		},
		{
			name:    "aof installed: AOF stays off",
			setup:   func(ip *InPlace, _ *fakeExec) { ip.AOF = true },
			run:     stageStopCommit(aof, nil),
			undoErr: "the AOF's",
			want:    slices.Concat([]string{"exec"}, saveOff, sigsOff, aofOff, []string{"exec"}),
		},
		{
			name:    "installed: saves stay off",
			run:     stageStopCommit(install, nil),
			undoErr: "restart the container",
			want:    slices.Concat([]string{"exec"}, saveOff, sigsOff, []string{"exec"}),
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
			ex.err = nil
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
	if err := ip.Stage(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
		t.Fatal(err)
	}
	if _, err := ip.Commit(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := ip.Revert(ctx, in); err != nil {
		t.Fatalf("Revert: %v", err)
	}
	if want := slices.Concat(saveOff, sigsOff, []string{"exec", "exec", "exec"}, saveBack, sigsBack); !slices.Equal(*log, want) {
		t.Errorf("Revert did\n%q\nwant\n%q", *log, want)
	}
	if got := ex.calls[2].cmd; !slices.Equal(got, revert) {
		t.Errorf("Revert exec %q, want the revert script with dir and name", got)
	}

	ip, ex, log = inPlace(t, true)
	if err := ip.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ip.Stage(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
		t.Fatal(err)
	}
	if _, err := ip.Commit(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := ip.Start(ctx); err != nil {
		t.Fatal(err)
	}
	*log = nil
	if err := ip.Rollback(ctx, in); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if want := slices.Concat(saveOff, sigsOff, []string{"exec", "SHUTDOWN NOSAVE"}); !slices.Equal(*log, want) {
		t.Errorf("Rollback did\n%q\nwant\n%q (no save of the restored data)", *log, want)
	}
	if got := ex.calls[2].cmd; !slices.Equal(got, revert) {
		t.Errorf("Rollback exec %q, want the revert script with dir and name", got)
	}
}
