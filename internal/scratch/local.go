package scratch

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/storage"
)

// ServerNames are the binaries Find looks for on PATH.
var ServerNames = []string{"redis-server", "valkey-server"}

var versionRE = regexp.MustCompile(`(?i)^(redis|valkey) server v=(\d+\.\d+\.\d+)`)

// Probe runs path --version and returns what server it is.
func Probe(ctx context.Context, path string) (drill.Server, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").Output()
	if err != nil {
		return drill.Server{}, fmt.Errorf("run %s --version: %w", path, err)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return drill.Server{}, fmt.Errorf("%s --version printed %q, not a Redis or Valkey server", path, strings.TrimSpace(string(out)))
	}
	flavor := storage.FlavorRedis
	if strings.EqualFold(m[1], "valkey") {
		flavor = storage.FlavorValkey
	}
	return drill.Server{Path: path, Flavor: flavor, Version: m[2]}, nil
}

// Find returns the servers given by path in extra (each must work: an
// error names the one that does not) and those on PATH, without repeats.
func Find(ctx context.Context, extra []string) ([]drill.Server, error) {
	var out []drill.Server
	seen := map[string]bool{}
	for _, p := range extra {
		s, err := Probe(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("scratch server %s: %w", p, err)
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			seen[real] = true
		}
		out = append(out, s)
	}
	for _, name := range ServerNames {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			if seen[real] {
				continue
			}
			seen[real] = true
		}
		if s, err := Probe(ctx, p); err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// Options tunes StartLocal.
type Options struct {
	// DBFilename is the RDB file in the directory to load.
	DBFilename string
	// Databases is the server's databases setting: more than the highest
	// db index of the backup (a loader exits on a db it does not have).
	Databases int
}

// Local is a scratch server running on this host.
type Local struct {
	Addr     string // 127.0.0.1:port
	Password string
	Dir      string

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stop    sync.Once
}

// errPortTaken means the server could not bind the port chosen for it
// (another process took it in between): StartLocal tries another one.
var errPortTaken = errors.New("port taken")

// StartLocal starts bin in dir, which holds the RDB to load, and returns
// once it runs (it may still be loading). The server is killed when ctx
// is done, by Stop, or when this process dies.
func StartLocal(ctx context.Context, bin drill.Server, dir string, o Options) (*Local, error) {
	for range 5 {
		l, err := startLocal(ctx, bin, dir, o)
		if !errors.Is(err, errPortTaken) {
			return l, err
		}
	}
	return nil, fmt.Errorf("start scratch %s: no free loopback port after 5 tries", bin)
}

func startLocal(ctx context.Context, bin drill.Server, dir string, o Options) (*Local, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	var pw [24]byte
	_, _ = rand.Read(pw[:])
	l := &Local{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Password: hex.EncodeToString(pw[:]), Dir: dir, exited: make(chan struct{})}
	conf := filepath.Join(dir, "scratch.conf")
	logFile := filepath.Join(dir, "server.log")
	_ = os.Remove(logFile)
	lines := []string{
		"port " + strconv.Itoa(port),
		"bind 127.0.0.1",
		"protected-mode yes",
		"daemonize no",
		"dir " + quote(dir),
		"dbfilename " + quote(o.DBFilename),
		`save ""`,
		"appendonly no",
		"databases " + strconv.Itoa(max(o.Databases, 16)),
		"requirepass " + l.Password,
		"logfile " + quote(logFile),
	}
	// The password is in a file only this user reads, not in the arguments.
	if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write scratch server config: %w", err)
	}
	l.cmd = exec.Command(bin.Path, conf)
	l.cmd.Dir = dir
	l.cmd.Env = []string{"PATH=/usr/bin:/bin"}
	l.cmd.SysProcAttr = sysProcAttr()
	if err := l.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start scratch %s (%s): %w", bin, bin.Path, err)
	}
	go func() {
		l.waitErr = l.cmd.Wait()
		close(l.exited)
	}()
	stopOnCancel := context.AfterFunc(ctx, l.Stop)
	// Until it listens, an exit is a failure to start.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", l.Addr, time.Second)
		if err == nil {
			_ = c.Close()
			return l, nil
		}
		select {
		case <-l.exited:
			stopOnCancel()
			tail := l.LogTail(20)
			if strings.Contains(tail, "Address already in use") {
				return nil, errPortTaken
			}
			return nil, fmt.Errorf("scratch %s exited at start (%v); its log ends:\n%s", bin, l.waitErr, tail)
		case <-ctx.Done():
			l.Stop()
			return nil, context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			l.Stop()
			return nil, fmt.Errorf("scratch %s did not listen on %s within 30s; its log ends:\n%s", bin, l.Addr, l.LogTail(20))
		}
	}
}

// Exited is closed when the server process has exited.
func (l *Local) Exited() <-chan struct{} { return l.exited }

// ExitError describes how the server exited, with the end of its log.
func (l *Local) ExitError() error {
	select {
	case <-l.exited:
		return fmt.Errorf("the scratch server exited (%v); its log ends:\n%s", l.waitErr, l.LogTail(20))
	default:
		return nil
	}
}

// Stop kills the server and waits for it to exit. Nothing of it is worth
// keeping, so it is not asked to shut down.
func (l *Local) Stop() {
	l.stop.Do(func() {
		if l.cmd.Process != nil {
			_ = l.cmd.Process.Kill()
		}
		select {
		case <-l.exited:
		case <-time.After(30 * time.Second):
		}
	})
}

// LogTail returns the last n lines of the server's log.
func (l *Local) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(l.Dir, "server.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port for the scratch server: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// quote writes s as a config file argument.
func quote(s string) string {
	return strconv.Quote(s)
}
