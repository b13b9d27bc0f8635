package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configures StartRedis. The zero value is a password-less
// server with no save points in a fresh temporary dir.
type RedisOptions struct {
	Password   string   // requirepass
	Dir        string   // data dir; a new t.TempDir() when empty
	DBFilename string   // dbfilename; dump.rdb when empty
	Config     []string // extra redis.conf lines, e.g. `appendonly yes`
	// Server is the binary to run (from NeedServer or EachServer); the zero
	// value is redis-server on PATH.
	Server Server
}

// Redis is a redis-server process owned by one test.
type Redis struct {
	Addr     string
	Port     int
	Dir      string
	Password string
	LogFile  string
	Version  [3]int // major, minor, patch of redis-server
	Server   Server // the binary that runs, with its flavor and version

	cmd  *exec.Cmd
	done chan struct{}
	bin  string // the binary, config file and arguments Restart runs again
	conf string
	args []string
}

var redisVersionRE = regexp.MustCompile(`v=(\d+)\.(\d+)\.(\d+)`)

// RedisServerVersion returns the version of redis-server on PATH.
func RedisServerVersion(t testing.TB) [3]int {
	t.Helper()
	return DefaultServer(t).Version
}

// StartRedis starts o.Server (redis-server on PATH by default) on a free
// loopback port and stops it when the test ends. It fails the test when the
// server does not answer PING.
func StartRedis(t testing.TB, o RedisOptions) *Redis {
	t.Helper()
	r, err := TryStartRedis(t, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TryStartRedis is StartRedis for a server that may refuse to start, such
// as one given a data file it cannot load: it returns why, with the
// server's log, instead of failing t.
func TryStartRedis(t testing.TB, o RedisOptions) (*Redis, error) {
	t.Helper()
	srv := o.Server
	if srv.Path == "" {
		srv = DefaultServer(t)
	}
	bin := srv.Path
	r := &Redis{Dir: o.Dir, Password: o.Password, Version: srv.Version, Server: srv}
	if r.Dir == "" {
		r.Dir = t.TempDir()
	}
	conf := []string{
		"bind 127.0.0.1",
		"protected-mode no",
		"daemonize no",
		`save ""`,
		"appendonly no",
		// A diskless full sync, such as a replication pull, waits this
		// long (5 s by default) before the fork: time the tests spend
		// idle. A test that needs the wait sets it in its Config, which
		// comes later and wins (StartReplicaSet does).
		"repl-diskless-sync-delay 0",
	}
	if srv.AtLeast(7, 0) { // Valkey counts from 7.2.4 on
		conf = append(conf, "enable-debug-command yes", "enable-protected-configs yes")
	}
	if o.DBFilename != "" {
		conf = append(conf, "dbfilename "+o.DBFilename)
	}
	if o.Password != "" {
		conf = append(conf, "requirepass "+o.Password)
	}
	conf = append(conf, o.Config...)
	// Reserving the port and starting the server race with other tests; a
	// few attempts make a collision harmless.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		r.Port = FreePort(t)
		r.Addr = Addr(r.Port)
		r.LogFile = filepath.Join(t.TempDir(), "redis.log")
		lines := append([]string{
			"port " + strconv.Itoa(r.Port),
			"dir " + r.Dir,
			"logfile " + r.LogFile,
		}, conf...)
		cfg := filepath.Join(t.TempDir(), "redis.conf")
		if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatalf("write redis.conf: %v", err)
		}
		r.bin, r.conf = bin, cfg
		if err := r.start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		if lastErr = r.waitPing(10 * time.Second); lastErr == nil {
			t.Cleanup(r.Stop)
			return r, nil
		}
		r.Stop()
	}
	return nil, fmt.Errorf("%s did not start: %w\nlog:\n%s", srv.Name, lastErr, r.Log())
}

func (r *Redis) start() error {
	r.cmd = exec.Command(r.bin, append([]string{r.conf}, r.args...)...)
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
	return nil
}

// Restart starts the server again, after Stop or a SHUTDOWN, on the same
// port, dir and config, and waits until it answers PING (it may load its
// data first). It fails t when the server does not come back.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	if r.Running() {
		t.Fatalf("restart %s: it is still running", r.Addr)
	}
	if err := r.start(); err != nil {
		t.Fatalf("restart %s: %v", r.Addr, err)
	}
	if err := r.waitPing(time.Minute); err != nil {
		t.Fatalf("restart %s: %v\nlog:\n%s", r.Addr, err, r.Log())
	}
}

// Running reports whether the server process has not exited.
func (r *Redis) Running() bool {
	if r.done == nil {
		return false
	}
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

func (r *Redis) waitPing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			return fmt.Errorf("redis-server exited")
		default:
		}
		if err = r.ping(); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// ping speaks RESP by hand so that a LOADING or NOAUTH answer still counts
// as "up" only when it is +PONG.
func (r *Redis) ping() error {
	c, err := net.DialTimeout("tcp", r.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	cmd := "PING\r\n"
	if r.Password != "" {
		cmd = fmt.Sprintf("*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\nPING\r\n", len(r.Password), r.Password)
	}
	if _, err := c.Write([]byte(cmd)); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	if r.Password != "" {
		if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
			return fmt.Errorf("auth: %q %v", line, err)
		}
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("ping: %q", strings.TrimSpace(line))
	}
	return nil
}

// Client returns a go-redis client for db 0, closed when the test ends.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, DB: 0})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// URL returns redis://[:password@]addr.
func (r *Redis) URL() string {
	if r.Password != "" {
		return "redis://:" + r.Password + "@" + r.Addr
	}
	return "redis://" + r.Addr
}

// Digest returns DEBUG DIGEST of the whole dataset.
func (r *Redis) Digest(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password})
	defer c.Close()
	d, err := c.Do(ctx, "DEBUG", "DIGEST").Text()
	if err != nil {
		t.Fatalf("DEBUG DIGEST on %s: %v", r.Addr, err)
	}
	return d
}

// Stop kills the server with SIGKILL, so nothing is saved at exit.
func (r *Redis) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Kill()
	<-r.done
}

// Log returns the server's log file content.
func (r *Redis) Log() string {
	b, _ := os.ReadFile(r.LogFile)
	return string(b)
}

// Command is the command line that starts this server (binary, config
// file, arguments), for tests where a script stops and starts it.
func (r *Redis) Command() []string {
	return append([]string{r.bin, r.conf}, r.args...)
}
