package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// freezeHelperEnv carries the set and the repository to the helper
// process of TestKilledRestoreThawed.
const freezeHelperEnv = "RDBAK_TEST_FREEZE_HELPER"

type freezeHelperArgs struct {
	Sentinels                                  []string
	MasterName, SentinelUser, SentinelPassword string
	Repo                                       string
	Target                                     string
}

// TestFreezeHelperProcess is not a test: TestKilledRestoreThawed runs the
// test binary on it as a restore to kill -9. It freezes the set as
// restoreIntoSet does (recording the priorities, holding a short lease),
// prints "frozen", and waits to be killed.
func TestFreezeHelperProcess(t *testing.T) {
	raw := os.Getenv(freezeHelperEnv)
	if raw == "" {
		return // run as a helper only
	}
	var a freezeHelperArgs
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		t.Fatal(err)
	}
	repo, err := storage.Open(t.Context(), a.Repo, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := discover(t.Context(), SentinelOptions{Sentinels: a.Sentinels, MasterName: a.MasterName,
		SentinelUser: a.SentinelUser, SentinelPassword: a.SentinelPassword, Password: "data-pw"})
	if err != nil {
		t.Fatal(err)
	}
	set.record = newFreezeStore(repo, a.Target)
	set.record.lease = 2 * time.Second
	set.log = slog.New(slog.DiscardHandler)
	testFrozenHook = func() {
		fmt.Println("frozen")
		select {} // until killed
	}
	err = restoreIntoSet(t.Context(), set, set.log, 100*time.Millisecond, time.Minute, func(context.Context) error { return nil })
	t.Fatalf("restoreIntoSet returned %v; it should have been killed while frozen", err)
}

// TestKilledRestoreThawed kills a restore (a real process) with SIGKILL
// while the set is frozen, on every version: every replica stays at
// replica-priority 0 and the freeze record stays; while the killed
// restore's lease runs, no other run thaws it (as for a live restore);
// once it ran out, the next restore puts the recorded priorities back
// before its own freeze, and ends with them back.
func TestKilledRestoreThawed(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Parallel()
		s := testenv.StartReplicaSet(t, sentinelSetOptions(srv))
		testenv.FillAllTypes(t, s.Master, 1)
		waitReplicated(t, s, s.Master)
		if err := s.Replicas[0].Client(t).ConfigSet(t.Context(), "replica-priority", "50").Err(); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		repo, err := storage.Open(t.Context(), "file://"+dir, storage.Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		a := &App{Log: slog.New(slog.DiscardHandler), Version: "test"}
		comp, _ := Compression(config.Compression{})
		res, err := a.Backup(t.Context(), sentinelTarget(t, s, "data-pw"), repo, comp, nil)
		if err != nil {
			t.Fatalf("backup: %v", err)
		}
		const target = "orders" // sentinelTarget's name

		args, err := json.Marshal(freezeHelperArgs{Sentinels: s.SentinelAddrs(), MasterName: s.Name, SentinelUser: s.SentinelUser,
			SentinelPassword: s.SentinelPassword, Repo: "file://" + dir, Target: target})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestFreezeHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), freezeHelperEnv+"="+string(args))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		lines := bufio.NewScanner(out)
		frozen := false
		var said []string
		for lines.Scan() {
			if strings.TrimSpace(lines.Text()) == "frozen" {
				frozen = true
				break
			}
			said = append(said, lines.Text())
		}
		if !frozen {
			t.Fatalf("the helper restore never reported the set frozen; it said:\n%s", strings.Join(said, "\n"))
		}

		set, err := discover(t.Context(), setOptions(s, "data-pw"))
		if err != nil {
			t.Fatal(err)
		}
		defer set.Close()
		set.record = newFreezeStore(repo, target)
		log := slog.New(slog.DiscardHandler)

		// Live: the helper renews its 2 s lease; wait past the first
		// expiry it wrote, so only the renewal keeps it.
		first, err := set.record.read(t.Context())
		if err != nil || first == nil {
			t.Fatalf("freeze record while frozen: %v, %v", first, err)
		}
		for time.Now().Before(first.Expires.Add(time.Second)) {
			time.Sleep(100 * time.Millisecond)
		}
		if _, err := set.thawLeftover(t.Context(), log, 100*time.Millisecond); !errors.Is(err, ErrFrozenByOther) {
			t.Fatalf("thaw while the restore runs: %v, want ErrFrozenByOther", err)
		}
		if err := restoreLocalAs(t.Context(), t, s, repo, res.Manifest, nil, target); !errors.Is(err, ErrFrozenByOther) {
			t.Fatalf("a second restore while the first runs: %v, want ErrFrozenByOther", err)
		}
		if p := priorities(t, s); p[0] != "0" || p[1] != "0" {
			t.Fatalf("while the restore runs replica-priority = %v, want [0 0]", p)
		}

		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if p := priorities(t, s); p[0] != "0" || p[1] != "0" {
			t.Fatalf("after kill -9 replica-priority = %v, want [0 0] (the leftover to undo)", p)
		}
		rec, err := set.record.read(t.Context())
		if err != nil || rec == nil {
			t.Fatalf("freeze record after kill -9: %v, %v", rec, err)
		}
		if got := fmt.Sprint(rec.Replicas); !strings.Contains(got, " 50}") || !strings.Contains(got, " 100}") {
			t.Fatalf("freeze record holds %s, want priorities 50 and 100", got)
		}
		for !rec.Stale(time.Now()) {
			time.Sleep(100 * time.Millisecond)
		}

		// A backup says so, loudly.
		var logs strings.Builder
		a.Log = slog.New(slog.NewTextHandler(&logs, nil))
		if _, err := a.Backup(t.Context(), sentinelTarget(t, s, "data-pw"), repo, comp, nil); err != nil {
			t.Fatalf("backup while frozen: %v", err)
		}
		if !strings.Contains(logs.String(), "level=ERROR msg=\"the Sentinel set cannot fail over") || !strings.Contains(logs.String(), "rdbak restore --thaw") {
			t.Errorf("a backup of the frozen set logged:\n%s\nwant an error naming rdbak restore --thaw", logs.String())
		}

		// The next restore thaws the leftover, then restores.
		if err := restoreLocalAs(t.Context(), t, s, repo, res.Manifest, nil, target); err != nil {
			t.Fatalf("restore after a killed one: %v", err)
		}
		if p := priorities(t, s); p[0] != "50" || p[1] != "100" {
			t.Errorf("after the next restore replica-priority = %v, want [50 100]", p)
		}
		if rec, err := set.record.read(t.Context()); err != nil || rec != nil {
			t.Errorf("freeze record after the next restore: %v, %v, want none", rec, err)
		}
	})
}
