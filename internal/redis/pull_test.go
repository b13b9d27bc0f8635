package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
)

func TestPullSizedForm(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"repl-diskless-sync no"}})
	testenv.FillAllTypes(t, r, 2)
	want := r.Digest(t)

	got, size := pullAll(t, t.Context(), &PullSource{Addr: r.Addr})
	if size != int64(len(got)) {
		t.Fatalf("Size = %d, but %d bytes were read", size, len(got))
	}
	checkRDB(t, got)
	// The disk target is a normal BGSAVE to dbfilename, and that file is
	// what the master sends.
	onDisk, err := os.ReadFile(filepath.Join(r.Dir, "dump.rdb"))
	if err != nil {
		t.Fatalf("the master wrote no dump.rdb: %v", err)
	}
	if !bytes.Equal(got, onDisk) {
		t.Fatalf("pulled %d bytes differ from the master's %d-byte dump.rdb", len(got), len(onDisk))
	}
	if d := loadDigest(t, got); d != want {
		t.Fatalf("digest after loading the pulled RDB = %s, want %s", d, want)
	}
}

func TestPullEOFMarkForm(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"repl-diskless-sync yes", "repl-diskless-sync-delay 0"}})
	testenv.FillAllTypes(t, r, 2)
	want := r.Digest(t)

	got, size := pullAll(t, t.Context(), &PullSource{Addr: r.Addr})
	if size != -1 {
		t.Fatalf("Size = %d, want -1 for a diskless transfer", size)
	}
	checkRDB(t, got)
	if _, err := os.Stat(filepath.Join(r.Dir, "dump.rdb")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a diskless transfer wrote dump.rdb (stat: %v)", err)
	}
	if d := loadDigest(t, got); d != want {
		t.Fatalf("digest after loading the pulled RDB = %s, want %s", d, want)
	}
}

func TestPullAuth(t *testing.T) {
	const password = "s3cret-pass"
	r := testenv.StartRedis(t, testenv.RedisOptions{
		Password: password,
		Config: []string{
			"user puller on >pullpass +sync +replconf",
			"user nosync on >nosyncpass +replconf",
			"repl-diskless-sync-delay 0",
		},
	})
	testenv.FillAllTypes(t, r, 1)
	want := r.Digest(t)

	t.Run("requirepass", func(t *testing.T) {
		got, _ := pullAll(t, t.Context(), &PullSource{Addr: r.Addr, Password: password})
		if d := loadDigest(t, got); d != want {
			t.Fatalf("digest = %s, want %s", d, want)
		}
	})
	t.Run("ACL user", func(t *testing.T) {
		got, _ := pullAll(t, t.Context(), &PullSource{Addr: r.Addr, Username: "puller", Password: "pullpass"})
		checkRDB(t, got)
	})

	failures := []struct {
		name   string
		src    PullSource
		want   string
		remedy string // what to do, in the error
	}{
		{"wrong password", PullSource{Password: "wrong-pass"}, "authenticate to " + r.Addr + ": WRONGPASS invalid username-password pair", "--password-file"},
		{"wrong user", PullSource{Username: "nobody", Password: password}, "authenticate to " + r.Addr + ": WRONGPASS", "--password-file"},
		{"no password", PullSource{}, "request RDB from " + r.Addr + ": NOAUTH Authentication required", "--password-file"},
		{"user without +sync", PullSource{Username: "nosync", Password: "nosyncpass"}, "request RDB from " + r.Addr + ": NOPERM", "give the ACL user +sync and +replconf, or back up with BGSAVE"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			src.Addr = r.Addr
			s, err := src.Open(t.Context())
			if err == nil {
				s.Body.Close()
				t.Fatal("Open succeeded, want an error")
			}
			t.Logf("error: %v", err)
			if !strings.HasPrefix(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.remedy) {
				t.Fatalf("error %q, want it to start with %q and say %q", err, tc.want, tc.remedy)
			}
			var reply *ReplyError
			if !errors.As(err, &reply) {
				t.Fatalf("error %q does not carry a *ReplyError", err)
			}
			for _, secret := range []string{password, "wrong-pass", "nosyncpass"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q contains a password", err)
				}
			}
		})
	}
}

func TestPullNoMasterLink(t *testing.T) {
	// A replica whose master is gone refuses SYNC.
	dead := testenv.Addr(testenv.FreePort(t))
	host, port, _ := strings.Cut(dead, ":")
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"replicaof " + host + " " + port}})
	_, err := (&PullSource{Addr: r.Addr}).Open(t.Context())
	if err == nil || !strings.Contains(err.Error(), "NOMASTERLINK") || !strings.Contains(err.Error(), "back up its master") {
		t.Fatalf("got %v, want a NOMASTERLINK error that says what to back up instead", err)
	}
}

var forms = []struct {
	name   string
	config []string
}{
	{"sized", []string{"repl-diskless-sync no"}},
	{"eof-mark", []string{"repl-diskless-sync yes", "repl-diskless-sync-delay 0"}},
}

func TestPullConnectionCut(t *testing.T) {
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			r := testenv.StartRedis(t, testenv.RedisOptions{Config: f.config})
			testenv.FillAllTypes(t, r, 1)

			t.Run("mid-stream", func(t *testing.T) {
				addr := startProxy(t, r.Addr, 100_000, false)
				s, err := (&PullSource{Addr: addr}).Open(t.Context())
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				defer s.Body.Close()
				got, err := io.ReadAll(s.Body)
				t.Logf("read %d bytes, then: %v", len(got), err)
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("read %d bytes then %v, want io.ErrUnexpectedEOF", len(got), err)
				}
				if !strings.Contains(err.Error(), "read RDB from "+addr) {
					t.Fatalf("error %q does not name the server", err)
				}
				if len(got) >= 100_000 {
					t.Fatalf("read %d bytes through a proxy that forwarded 100000", len(got))
				}
			})
			t.Run("during handshake", func(t *testing.T) {
				addr := startProxy(t, r.Addr, 3, false)
				_, err := (&PullSource{Addr: addr}).Open(t.Context())
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
				}
			})
		})
	}
}

func TestPullCancel(t *testing.T) {
	t.Run("mid-transfer", func(t *testing.T) {
		for _, f := range forms {
			t.Run(f.name, func(t *testing.T) {
				r := testenv.StartRedis(t, testenv.RedisOptions{Config: f.config})
				testenv.FillAllTypes(t, r, 1)
				addr := startProxy(t, r.Addr, 100_000, true)
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				s, err := (&PullSource{Addr: addr}).Open(ctx)
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				defer s.Body.Close()
				res := make(chan error, 1)
				go func() {
					_, err := io.Copy(io.Discard, s.Body)
					res <- err
				}()
				time.Sleep(100 * time.Millisecond) // let the copy block on the stalled proxy
				cancel()
				select {
				case err := <-res:
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("got %v, want context.Canceled", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("Read still blocked 10s after cancel")
				}
			})
		}
	})
	t.Run("waiting for BGSAVE", func(t *testing.T) {
		// The master waits repl-diskless-sync-delay before forking.
		r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"repl-diskless-sync yes", "repl-diskless-sync-delay 30"}})
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		_, err := (&PullSource{Addr: r.Addr}).Open(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestPullIdleTimeout(t *testing.T) {
	t.Run("stalled transfer", func(t *testing.T) {
		r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"repl-diskless-sync no"}})
		testenv.FillAllTypes(t, r, 1)
		addr := startProxy(t, r.Addr, 100_000, true)
		// Longer than the master's one-second keep-alives while it forks,
		// so only the stall can end the transfer, however loaded the machine.
		s, err := (&PullSource{Addr: addr, IdleTimeout: 2500 * time.Millisecond}).Open(t.Context())
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer s.Body.Close()
		_, err = io.Copy(io.Discard, s.Body)
		if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "idle timeout") {
			t.Fatalf("got %v, want an idle timeout", err)
		}
	})
	t.Run("keep-alives reset it", func(t *testing.T) {
		// The master sends a newline every second while it waits 5s to fork;
		// an idle timeout of 3.5s must survive that.
		r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"repl-diskless-sync yes", "repl-diskless-sync-delay 5"}})
		testenv.FillAllTypes(t, r, 1)
		want := r.Digest(t)
		got, _ := pullAll(t, t.Context(), &PullSource{Addr: r.Addr, IdleTimeout: 3500 * time.Millisecond})
		if d := loadDigest(t, got); d != want {
			t.Fatalf("digest = %s, want %s", d, want)
		}
	})
}

func TestPullFakeMaster(t *testing.T) {
	rdb := append([]byte("REDIS0010"), randomBytes(5000, 20)...)
	ok := map[string]string{"AUTH": "+OK", "REPLCONF": "+OK"}
	old := map[string]string{"AUTH": "+OK", "REPLCONF": "-ERR Unrecognized REPLCONF option: rdb-only"}
	cases := []struct {
		name    string
		reply   map[string]string
		payload string
		idle    time.Duration
		want    []byte // nil: Open must fail with wantErr
		wantErr string
	}{
		{"keep-alives then sized", ok, "\n\n\n" + fmt.Sprintf("$%d\r\n", len(rdb)) + string(rdb), 0, rdb, ""},
		{"old server, command stream after RDB", old, fmt.Sprintf("$%d\r\n", len(rdb)) + string(rdb) + "*1\r\n$4\r\nPING\r\n", 0, rdb, ""},
		{"eof mark", ok, "\n$EOF:" + testMark + "\r\n" + string(rdb) + testMark, 0, rdb, ""},
		{"short mark", ok, "$EOF:abc\r\n" + string(rdb), 0, nil, "bad end-of-RDB mark"},
		{"not an RDB", ok, "$20\r\nHELLO WORLD 12345678", 0, nil, `payload starts with "HELLO"`},
		{"bad length", ok, "$-1\r\n", 0, nil, "bad payload length"},
		{"status reply", ok, "+FULLRESYNC 0123 0\r\n", 0, nil, "unexpected reply"},
		{"error reply", ok, "-LOADING Redis is loading the dataset in memory\r\n", 0, nil, ": LOADING Redis is loading"},
		{"silence", ok, "", 200 * time.Millisecond, nil, "idle timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeMaster(t, tc.reply, func(w io.Writer) {
				_, _ = io.WriteString(w, tc.payload)
				if tc.name == "silence" {
					time.Sleep(time.Second)
				}
			})
			src := &PullSource{Addr: addr, Password: "pw", IdleTimeout: tc.idle}
			if tc.want == nil {
				s, err := src.Open(t.Context())
				if err == nil {
					s.Body.Close()
					t.Fatal("Open succeeded, want an error")
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			got, _ := pullAll(t, t.Context(), src)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, want the %d-byte RDB", len(got), len(tc.want))
			}
		})
	}
}

// Keep-alives arrive more often than the idle timeout, for longer than it.
func TestPullKeepAlivesOnFakeMaster(t *testing.T) {
	rdb := append([]byte("REDIS0010"), randomBytes(100, 21)...)
	addr := fakeMaster(t, map[string]string{"REPLCONF": "+OK"}, func(w io.Writer) {
		for range 50 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		_, _ = fmt.Fprintf(w, "$%d\r\n%s", len(rdb), rdb)
	})
	// 2.5s of keep-alives against a 1s idle timeout: a wide margin for a
	// loaded machine, and still only passing if each newline resets it.
	got, size := pullAll(t, t.Context(), &PullSource{Addr: addr, IdleTimeout: time.Second})
	if !bytes.Equal(got, rdb) || size != int64(len(rdb)) {
		t.Fatalf("got %d bytes (Size %d), want the %d-byte RDB", len(got), size, len(rdb))
	}
}

// A server that does not run SYNC at all: the error says so and names the
// other way to back it up.
func TestPullSyncRenamed(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{`rename-command SYNC ""`}})
	s, err := (&PullSource{Addr: r.Addr}).Open(t.Context())
	if err == nil {
		s.Body.Close()
		t.Fatal("Open succeeded, want an error")
	}
	t.Logf("error: %v", err)
	for _, want := range []string{"request RDB from " + r.Addr, "unknown command", "SYNC is renamed, disabled or not permitted", "--source file"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
	}
}
