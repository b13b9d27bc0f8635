package redis

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/testenv"
)

func TestClientInfo(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	c := New(Options{Addr: r.Addr})
	defer c.Close()
	if err := r.Client(t).Set(t.Context(), "k", "v", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	in, err := c.Info(t.Context(), "server")
	if err != nil {
		t.Fatalf("INFO server: %v", err)
	}
	if want := fmt.Sprintf("%d.%d.%d", r.Version[0], r.Version[1], r.Version[2]); in.Server.Version != want {
		t.Fatalf("redis_version = %q, want %q", in.Server.Version, want)
	}
	if in.Persistence.HasLastSaveTime {
		t.Fatal("INFO server returned persistence fields")
	}
	in, err = c.Info(t.Context(), "persistence", "keyspace", "replication")
	if err != nil {
		t.Fatalf("INFO persistence keyspace replication: %v", err)
	}
	p := in.Persistence
	if p.Loading || p.BGSaveInProgress || p.LastBGSaveStatus != "ok" || !p.HasLastSaveTime {
		t.Errorf("persistence = %+v", p)
	}
	if in.KeysTotal() != 1 || in.Keyspace[0].Expires != 1 || !in.Replication.IsMaster() {
		t.Errorf("keyspace %+v, replication %+v: want 1 key with expiry on a master", in.Keyspace, in.Replication)
	}
	all, err := c.Info(t.Context())
	if err != nil || all.Server.Version == "" || !all.Persistence.HasLastSaveTime {
		t.Fatalf("INFO with no section = %+v, %v; want the default sections", all, err)
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
		in, err := c.Info(t.Context(), "persistence")
		return err == nil && !in.Persistence.BGSaveInProgress && !in.Persistence.AOFRewrite
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
	// A restore times its .pre-restore save by the last one's length.
	if got := before.Persistence.LastBGSaveTime; got != -1 {
		t.Errorf("rdb_last_bgsave_time_sec before any BGSAVE = %d, want -1", got)
	}

	if got, err := c.BGSave(ctx, false); err != nil || got != "Background saving started" {
		t.Fatalf("first BGSAVE = %q, %v", got, err)
	}
	for _, schedule := range []bool{false, true} {
		_, err := c.BGSave(ctx, schedule)
		assertReply(t, err, "ERR Background save already in progress")
		if !errors.Is(err, backup.ErrSaveInProgress) {
			t.Errorf("BGSAVE during a save: %v does not match backup.ErrSaveInProgress", err)
		}
	}
	waitNoChild(t, c)
	if in, err := c.Info(ctx, "persistence"); err != nil || in.Persistence.LastBGSaveTime < 0 {
		t.Errorf("rdb_last_bgsave_time_sec after a BGSAVE: %+v, %v", in.Persistence, err)
	}

	if err := r.Client(t).BgRewriteAOF(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	_, err = c.BGSave(ctx, false)
	assertReply(t, err, "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
	if !errors.Is(err, backup.ErrChildActive) {
		t.Errorf("BGSAVE during an AOF rewrite: %v does not match backup.ErrChildActive", err)
	}
	if got, err := c.BGSave(ctx, true); err != nil || got != "Background saving scheduled" {
		t.Fatalf("BGSAVE SCHEDULE during an AOF rewrite = %q, %v", got, err)
	}
	// The scheduled save runs after the rewrite: two saves in all.
	want := before.Persistence.Saves + 2
	waitFor(t, "the scheduled BGSAVE", func() bool {
		in, err := c.Info(ctx, "persistence")
		return err == nil && in.Persistence.Saves == want && !in.Persistence.BGSaveInProgress
	})
}

// assertReply checks that err is Redis's error reply, unchanged.
func assertReply(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %q", want)
	}
	var rerr *ReplyError
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
	in, err := c.Info(ctx, "persistence")
	if err != nil {
		t.Fatal(err)
	}
	if in.Persistence.LastBGSaveStatus != "err" {
		t.Fatalf("rdb_last_bgsave_status = %q after saving into a removed dir, want err", in.Persistence.LastBGSaveStatus)
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
	in, err := c.Info(ctx, "persistence")
	if err != nil {
		t.Fatal(err)
	}
	if want := in.Persistence.LastSaveTime; got.Unix() != want {
		t.Fatalf("LastSave = %d, INFO rdb_last_save_time = %d", got.Unix(), want)
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
	var rerr *ReplyError
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

// TestClientRefusals checks that a refused password or command names the
// server and says what to fix, and keeps its class for callers.
func TestClientRefusals(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Password: "s3cret-pass", Config: []string{"user noinfo on >pw +ping"}})
	for _, tc := range []struct {
		name   string
		o      Options
		class  error
		reply  string
		remedy string
	}{
		{"no password", Options{}, ErrNoAuth, "NOAUTH", "--password-file"},
		{"wrong password", Options{Password: "wrong-pass"}, ErrWrongPass, "WRONGPASS", "--password-file"},
		{"command not permitted", Options{Username: "noinfo", Password: "pw"}, ErrNoPerm, "NOPERM", "grant it to the ACL user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Addr = r.Addr
			c := New(tc.o)
			defer c.Close()
			_, err := c.Info(t.Context(), "server")
			if err == nil {
				t.Fatal("INFO succeeded, want a refusal")
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.reply) {
				t.Fatalf("error %q is not Redis's %s reply", err, tc.reply)
			}
			if !strings.Contains(err.Error(), r.Addr) || !strings.Contains(err.Error(), tc.remedy) {
				t.Fatalf("error %q does not name %s and say %q", err, r.Addr, tc.remedy)
			}
			if strings.Contains(err.Error(), "wrong-pass") {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}
}

// TestSnapshotBGSaveNotAllowed checks that a BGSAVE the server will not
// run (renamed, or not in the ACL user's commands) is not reported as a
// failed save, whose hint sends the operator to the Redis log and the
// disk, but as what it is, with the way out.
func TestSnapshotBGSaveNotAllowed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		conf  string
		o     Options
		reply string
	}{
		{"renamed", `rename-command BGSAVE ""`, Options{}, "ERR unknown command"},
		{"not permitted", "user nobgsave on >pw +info +lastsave +config|get", Options{Username: "nobgsave", Password: "pw"}, "NOPERM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{tc.conf}})
			tc.o.Addr = r.Addr
			c := New(tc.o)
			defer c.Close()
			_, err := backup.Snapshot(t.Context(), c, backup.SnapshotOptions{})
			if err == nil {
				t.Fatal("Snapshot succeeded, want a refusal")
			}
			t.Logf("error: %v", err)
			if errors.Is(err, backup.ErrSaveFailed) || !errors.Is(err, backup.ErrNotAllowed) {
				t.Fatalf("error %q: want ErrNotAllowed, not ErrSaveFailed", err)
			}
			for _, want := range []string{tc.reply, r.Addr, "+bgsave", "--source replication"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestRestoreBatchKeyTooLarge: a RESTORE bigger than the server's
// client-query-buffer-limit gets no reply, the connection is dropped;
// the error says where to look, not only "EOF".
func TestRestoreBatchKeyTooLarge(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	ctx := t.Context()
	rc := r.Client(t)
	if err := rc.Set(ctx, "big", randomBytes(3<<20, 7), 0).Err(); err != nil {
		t.Fatal(err)
	}
	payload, err := rc.Dump(ctx, "big").Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.ConfigSet(ctx, "client-query-buffer-limit", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	c := New(Options{Addr: r.Addr})
	defer c.Close()
	_, err = c.RestoreBatch(ctx, []Restore{{Key: []byte("copy"), Payload: []byte(payload)}})
	if err == nil || !strings.Contains(err.Error(), "client-query-buffer-limit") {
		t.Fatalf("RestoreBatch of a 3 MiB key over a 1 MiB query buffer = %v, want an error naming client-query-buffer-limit", err)
	}
}
