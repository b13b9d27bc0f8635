package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serverSpec describes how to run one object-storage server on a port.
type serverSpec struct {
	name string // component name for Missing and messages
	// command builds the command that serves on port; dir is a fresh data dir.
	command func(port int, dir string) *exec.Cmd
	// ready reports whether the server at endpoint (http://127.0.0.1:port)
	// answers; it is polled until it returns nil.
	ready func(ctx context.Context, endpoint string) error
	// startTimeout bounds one start attempt.
	startTimeout time.Duration
}

// server is a running server process owned by one test.
type server struct {
	Endpoint string
	Port     int
	Dir      string
	LogFile  string

	cmd  *exec.Cmd
	done chan struct{}
}

// startServer runs spec on a free loopback port in a new temp dir and stops
// it when t ends. Reserving a port and binding it race with other tests, so
// an attempt whose server exits before it is ready is retried on another
// port.
func startServer(t testing.TB, spec serverSpec) *server {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s := &server{Port: FreePort(t), Dir: t.TempDir()}
		s.Endpoint = "http://" + Addr(s.Port)
		s.LogFile = filepath.Join(t.TempDir(), spec.name+".log")
		log, err := os.Create(s.LogFile)
		if err != nil {
			t.Fatalf("create %s log: %v", spec.name, err)
		}
		s.cmd = spec.command(s.Port, s.Dir)
		s.cmd.Stdout, s.cmd.Stderr = log, log
		// Its own process group, so Stop also ends any helper it forks.
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		err = s.cmd.Start()
		log.Close()
		if err != nil {
			t.Fatalf("start %s: %v", spec.name, err)
		}
		s.done = make(chan struct{})
		go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
		if lastErr = s.waitReady(t.Context(), spec); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
		s.Stop()
		lastErr = fmt.Errorf("%w\nlog:\n%s", lastErr, s.Log())
	}
	t.Fatalf("%s did not start: %v", spec.name, lastErr)
	return nil
}

var errExited = errors.New("server exited")

func (s *server) waitReady(ctx context.Context, spec serverSpec) error {
	ctx, cancel := context.WithTimeout(ctx, spec.startTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var err error
	for {
		select {
		case <-s.done:
			return fmt.Errorf("%s: %w", spec.name, errExited)
		default:
		}
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		err = spec.ready(rctx, s.Endpoint)
		rcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s at %s: %w (last probe: %w)", spec.name, s.Endpoint, ctx.Err(), err)
		case <-s.done:
			return fmt.Errorf("%s: %w", spec.name, errExited)
		case <-tick.C:
		}
	}
}

// Stop kills the server's process group and waits for the server to exit.
func (s *server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
}

// Log returns what the server printed.
func (s *server) Log() string {
	b, _ := os.ReadFile(s.LogFile)
	return string(b)
}

// cleanEnv returns the process environment without the variables that
// configure object-storage servers and clients, so a developer's own cloud
// settings cannot leak into a server or a child process under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "AZURE_") || strings.HasPrefix(k, "MINIO_") ||
			strings.HasPrefix(k, "AZURITE_") || strings.HasPrefix(k, "GOOGLE_") || strings.HasPrefix(k, "STORAGE_EMULATOR_HOST") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// httpStatusReady returns a ready probe that GETs path and wants one of the
// given status codes.
func httpStatusReady(path string, want ...int) func(ctx context.Context, endpoint string) error {
	return func(ctx context.Context, endpoint string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+path, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		for _, w := range want {
			if resp.StatusCode == w {
				return nil
			}
		}
		return fmt.Errorf("GET %s: status %s", path, resp.Status)
	}
}

// httpAnyReady is a ready probe for servers with no health endpoint: any HTTP
// answer to GET / means the server is serving.
func httpAnyReady(ctx context.Context, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
