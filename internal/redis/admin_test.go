package redis

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
)

// TestShutdownNoSave: with save points set, SHUTDOWN NOSAVE exits without
// writing the in-memory data, which is what keeps a restored file safe.
func TestShutdownNoSave(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"save 1 1"}})
	c := New(Options{Addr: r.Addr})
	defer c.Close()
	ctx := context.Background()
	if err := r.Client(t).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "save", "3600 1"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ConfigGet(ctx, "save"); err != nil || got != "3600 1" {
		t.Fatalf("save = %q, %v", got, err)
	}
	if err := c.ShutdownNoSave(ctx); err != nil {
		t.Fatalf("ShutdownNoSave: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.rdb.Ping(ctx).Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server still answers after SHUTDOWN NOSAVE")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "dump.rdb")); !os.IsNotExist(err) {
		t.Fatalf("dump.rdb exists after SHUTDOWN NOSAVE with save points: %v", err)
	}
}
