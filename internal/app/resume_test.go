package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
)

// TestResumeSaving: a Redis with save points whose BGSAVE failed refuses
// writes (MISCONF); once what made it fail is gone (in a restore, the
// staged file that filled the volume), resumeSaving makes it save and
// accept writes again, and says so when the save still fails.
func TestResumeSaving(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"save 3600 1"}})
	c := r.Client(t)
	cl := redis.New(redis.Options{Addr: r.Addr})
	defer cl.Close()
	log := slog.New(slog.DiscardHandler)
	if err := resumeSaving(t.Context(), cl, log); err != nil {
		t.Fatalf("a Redis that saves: %v", err)
	}

	// A directory where dump.rdb goes makes the BGSAVE's rename fail.
	blocker := filepath.Join(r.Dir, "dump.rdb")
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := resumeSaving(t.Context(), cl, log); err != nil {
		t.Fatalf("a Redis whose last BGSAVE succeeded: %v", err)
	}
	if err := c.BgSave(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := c.Set(t.Context(), "k", "v2", 0).Err()
		if err != nil && strings.Contains(err.Error(), "MISCONF") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a failed BGSAVE, SET: %v, want MISCONF", err)
		}
	}
	if err := resumeSaving(t.Context(), cl, log); err == nil || !strings.Contains(err.Error(), "refuses writes") {
		t.Fatalf("err = %v, want the save still failing named", err)
	}

	if err := os.RemoveAll(blocker); err != nil {
		t.Fatal(err)
	}
	if err := resumeSaving(t.Context(), cl, log); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(t.Context(), "k", "v3", 0).Err(); err != nil {
		t.Fatalf("write after resumeSaving: %v", err)
	}
}
