package redis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/internal/testenv"
)

func TestParseInfo(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"header only", "# Keyspace\r\n", map[string]string{}},
		{
			"fields",
			"# Persistence\r\nloading:0\r\nrdb_last_bgsave_status:ok\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n",
			map[string]string{"loading": "0", "rdb_last_bgsave_status": "ok", "db0": "keys=1,expires=0,avg_ttl=0"},
		},
		{"colon in value, LF only", "executable:/usr/bin/redis-server\nconfig_file:C:\\redis.conf\n", map[string]string{"executable": "/usr/bin/redis-server", "config_file": "C:\\redis.conf"}},
		{"empty value", "os:\r\n", map[string]string{"os": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseInfo(tc.in); !maps.Equal(got, tc.want) {
				t.Fatalf("parseInfo(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestClientInfo(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	c := New(Options{Addr: r.Addr})
	defer c.Close()

	server, err := c.Info(t.Context(), "server")
	if err != nil {
		t.Fatalf("INFO server: %v", err)
	}
	if want := fmt.Sprintf("%d.%d.%d", r.Version[0], r.Version[1], r.Version[2]); server["redis_version"] != want {
		t.Fatalf("redis_version = %q, want %q", server["redis_version"], want)
	}
	if _, ok := server["rdb_bgsave_in_progress"]; ok {
		t.Fatal("INFO server returned persistence fields")
	}
	persistence, err := c.Info(t.Context(), "persistence")
	if err != nil {
		t.Fatalf("INFO persistence: %v", err)
	}
	for k, want := range map[string]string{"loading": "0", "rdb_bgsave_in_progress": "0", "rdb_last_bgsave_status": "ok"} {
		if persistence[k] != want {
			t.Errorf("%s = %q, want %q", k, persistence[k], want)
		}
	}
	keyspace, err := c.Info(t.Context(), "keyspace")
	if err != nil || len(keyspace) != 0 {
		t.Fatalf("INFO keyspace on an empty server = %v, %v; want no fields", keyspace, err)
	}
	all, err := c.Info(t.Context(), "")
	if err != nil || all["redis_version"] == "" || all["loading"] == "" {
		t.Fatalf("INFO with no section = %d fields, %v; want the default sections", len(all), err)
	}
}

// saveDelay makes each BGSAVE or AOF rewrite child take about 100 keys ×
// 5 ms, long enough to send a second command while it runs.
func saveDelay(t *testing.T, r *testenv.Redis) {
	t.Helper()
	rc := r.Client(t)
	if err := rc.Do(t.Context(), "DEBUG", "POPULATE", 100).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.ConfigSet(t.Context(), "rdb-key-save-delay", "5000").Err(); err != nil {
		t.Fatal(err)
	}
}

func waitNoChild(t *testing.T, c *Client) {
	t.Helper()
	waitFor(t, "background children to finish", func() bool {
		p, err := c.Info(t.Context(), "persistence")
		return err == nil && p["rdb_bgsave_in_progress"] == "0" && p["aof_rewrite_in_progress"] == "0" && p["aof_rewrite_scheduled"] == "0"
	})
}

func TestClientBGSave(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	saveDelay(t, r)
	c := New(Options{Addr: r.Addr})
	defer c.Close()
	ctx := t.Context()
	before, err := c.Info(ctx, "persistence")
	if err != nil {
		t.Fatal(err)
	}

	if got, err := c.BGSave(ctx, false); err != nil || got != "Background saving started" {
		t.Fatalf("first BGSAVE = %q, %v", got, err)
	}
	for _, schedule := range []bool{false, true} {
		_, err := c.BGSave(ctx, schedule)
		assertReply(t, err, "ERR Background save already in progress")
	}
	waitNoChild(t, c)

	if err := r.Client(t).BgRewriteAOF(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	_, err = c.BGSave(ctx, false)
	assertReply(t, err, "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
	if got, err := c.BGSave(ctx, true); err != nil || got != "Background saving scheduled" {
		t.Fatalf("BGSAVE SCHEDULE during an AOF rewrite = %q, %v", got, err)
	}
	// The scheduled save runs after the rewrite: two saves in all.
	want, _ := strconv.Atoi(before["rdb_saves"])
	want += 2
	waitFor(t, "the scheduled BGSAVE", func() bool {
		p, err := c.Info(ctx, "persistence")
		return err == nil && p["rdb_saves"] == strconv.Itoa(want) && p["rdb_bgsave_in_progress"] == "0"
	})
}

// assertReply checks that err is Redis's error reply, unchanged.
func assertReply(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %q", want)
	}
	var rerr goredis.Error
	if !errors.As(err, &rerr) || err.Error() != want {
		t.Fatalf("got %q (Redis reply: %v), want Redis's reply %q unchanged", err, errors.As(err, &rerr), want)
	}
}

func TestClientFailedSave(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	c := New(Options{Addr: r.Addr})
	defer c.Close()
	ctx := t.Context()
	// Root ignores permissions, so take the directory away instead.
	gone := t.TempDir()
	if err := r.Client(t).ConfigSet(ctx, "dir", gone).Err(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(gone); err != nil {
		t.Fatal(err)
	}
	if got, err := c.BGSave(ctx, false); err != nil || got != "Background saving started" {
		t.Fatalf("BGSAVE = %q, %v", got, err)
	}
	waitNoChild(t, c)
	p, err := c.Info(ctx, "persistence")
	if err != nil {
		t.Fatal(err)
	}
	if p["rdb_last_bgsave_status"] != "err" {
		t.Fatalf("rdb_last_bgsave_status = %q after saving into a removed dir, want err", p["rdb_last_bgsave_status"])
	}
}

func TestClientLastSave(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	c := New(Options{Addr: r.Addr})
	defer c.Close()
	ctx := t.Context()
	if err := r.Client(t).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BGSave(ctx, false); err != nil {
		t.Fatal(err)
	}
	waitNoChild(t, c)
	got, err := c.LastSave(ctx)
	if err != nil {
		t.Fatalf("LASTSAVE: %v", err)
	}
	p, err := c.Info(ctx, "persistence")
	if err != nil {
		t.Fatal(err)
	}
	if want := p["rdb_last_save_time"]; strconv.FormatInt(got.Unix(), 10) != want {
		t.Fatalf("LastSave = %d, INFO rdb_last_save_time = %s", got.Unix(), want)
	}
	if p["rdb_changes_since_last_save"] != "0" {
		t.Fatalf("rdb_changes_since_last_save = %s, want 0 after the save", p["rdb_changes_since_last_save"])
	}
}

func TestClientConfigGet(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"user noconfig on >pw +info"}})
	c := New(Options{Addr: r.Addr})
	defer c.Close()
	ctx := t.Context()

	if dir, err := c.ConfigGet(ctx, "dir"); err != nil || dir != r.Dir {
		t.Fatalf("CONFIG GET dir = %q, %v; want %q", dir, err, r.Dir)
	}
	if v, err := c.ConfigGet(ctx, "DBFilename"); err != nil || v != "dump.rdb" {
		t.Fatalf("CONFIG GET DBFilename = %q, %v; want dump.rdb", v, err)
	}
	if _, err := c.ConfigGet(ctx, "no-such-parameter"); err == nil || !strings.Contains(err.Error(), "no such parameter") {
		t.Fatalf("CONFIG GET of an unknown parameter: %v", err)
	}

	t.Run("forbidden by ACL", func(t *testing.T) {
		c := New(Options{Addr: r.Addr, Username: "noconfig", Password: "pw"})
		defer c.Close()
		_, err := c.ConfigGet(ctx, "dir")
		assertConfigHint(t, err, "NOPERM")
	})
	t.Run("renamed", func(t *testing.T) {
		r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{`rename-command CONFIG ""`}})
		c := New(Options{Addr: r.Addr})
		defer c.Close()
		_, err := c.ConfigGet(ctx, "dir")
		assertConfigHint(t, err, "ERR unknown command 'config'")
	})
}

func assertConfigHint(t *testing.T, err error, reply string) {
	t.Helper()
	if err == nil {
		t.Fatal("CONFIG GET succeeded, want an error")
	}
	t.Logf("error: %v", err)
	var rerr goredis.Error
	if !errors.As(err, &rerr) || !strings.HasPrefix(rerr.Error(), reply) {
		t.Fatalf("error %q does not carry Redis's reply %q", err, reply)
	}
	if !strings.Contains(err.Error(), `give "dir" as a config override`) {
		t.Fatalf("error %q does not point at the config override", err)
	}
}

func TestClientTransportError(t *testing.T) {
	addr := testenv.Addr(testenv.FreePort(t))
	c := New(Options{Addr: addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := c.LastSave(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "send LASTSAVE to "+addr+": ") {
		t.Fatalf("got %v, want a wrapped transport error naming the server", err)
	}
}

func TestNewClientWrapsExisting(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Password: "pw"})
	c := NewClient(goredis.NewClient(&goredis.Options{Addr: r.Addr, Password: "pw"}))
	defer c.Close()
	if _, err := c.LastSave(t.Context()); err != nil {
		t.Fatalf("LASTSAVE: %v", err)
	}
}
