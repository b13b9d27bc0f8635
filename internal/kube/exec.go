package kube

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/rdbak/rdbak/internal/kubeapi"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/restore"
)

// PodFiles reads files in a container of a pod through pods/exec. It needs
// sh, stat and cat in the container (busybox or coreutils), as the official,
// Alpine and Bitnami Redis images have.
type PodFiles struct {
	Client    *Client
	Namespace string
	Pod       string
	Container string
	// AllowSPDY lets the exec fall back to SPDY when the API server (or a
	// proxy in between) cannot upgrade to WebSocket.
	AllowSPDY bool
}

var _ backup.FileReader = (*PodFiles)(nil)

// streamScript opens the file once, prints its size measured on the open
// descriptor, then streams that descriptor: a BGSAVE that renames a new
// file over the path after the open changes neither the size nor the bytes.
const streamScript = `[ -f "$1" ] || { echo "no such file" >&2; exit 66; }
[ -r "$1" ] || { echo "not readable" >&2; exit 66; }
exec 3<"$1" || exit 66
size=$(stat -L -c %s /proc/$$/fd/3) || exit 67
printf 'RDBAK-SIZE %s\n' "$size"
exec cat <&3`

// OpenFile implements backup.FileReader. The returned reader yields exactly
// the announced number of bytes, or fails: a stream that ends short is an
// error even when the exec exits 0.
func (f *PodFiles) OpenFile(ctx context.Context, path string) (io.ReadCloser, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := f.exec(ctx, []string{"sh", "-c", streamScript, "rdbak", path}, nil, pw, stderr)
		done <- err
		pw.CloseWithError(execError(err, path, stderr))
	}()
	br := bufio.NewReaderSize(pr, 64<<10)
	line, err := br.ReadString('\n')
	if err != nil {
		cancel()
		pr.Close()
		<-done
		return nil, 0, fmt.Errorf("stream %s from pod %s/%s: %w", path, f.Namespace, f.Pod, err)
	}
	size, perr := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "RDBAK-SIZE ")), 10, 64)
	if !strings.HasPrefix(line, "RDBAK-SIZE ") || perr != nil || size < 0 {
		cancel()
		pr.Close()
		<-done
		return nil, 0, fmt.Errorf("stream %s from pod %s/%s: unexpected first line %q", path, f.Namespace, f.Pod, strings.TrimSpace(line))
	}
	return &podStream{r: br, pr: pr, left: size, cancel: cancel, done: done, where: f.Namespace + "/" + f.Pod + ":" + path}, size, nil
}

// execError turns the exec's outcome into what the stream reader returns
// after the last byte: io.EOF for success, otherwise the reason.
func execError(err error, path string, stderr *syncBuffer) error {
	if err == nil {
		return io.EOF
	}
	msg := strings.TrimSpace(stderr.String())
	var code interface{ ExitStatus() int }
	if errors.As(err, &code) {
		switch code.ExitStatus() {
		case 66:
			return fmt.Errorf("cannot open %s in the pod: %s", path, msg)
		case 67:
			return fmt.Errorf("cannot measure %s in the pod (stat missing?): %s", path, msg)
		case 126, 127:
			return fmt.Errorf("the container has no shell tools (sh, stat, cat) to stream %s: use the replication source instead: %s", path, msg)
		}
	}
	return withStderr(err, msg)
}

// withStderr is err with what the failed command printed, if anything.
func withStderr(err error, stderr string) error {
	if s := strings.TrimSpace(stderr); s != "" {
		return fmt.Errorf("%w: %s", err, s)
	}
	return err
}

// podStream is the body of one exec'd file.
type podStream struct {
	r      *bufio.Reader
	pr     *io.PipeReader
	left   int64
	cancel context.CancelFunc
	done   chan error
	where  string
	closed bool
}

func (s *podStream) Read(p []byte) (int, error) {
	if s.left == 0 {
		// The whole file arrived; anything more, or a failed exec, is an error.
		var one [1]byte
		n, err := s.r.Read(one[:])
		switch {
		case n > 0:
			return 0, fmt.Errorf("stream %s: more bytes than the %s announced", s.where, "size")
		case err == io.EOF:
			return 0, io.EOF
		default:
			return 0, fmt.Errorf("stream %s: %w", s.where, err)
		}
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= int64(n)
	if err == io.EOF {
		return n, fmt.Errorf("stream %s: ended with %d bytes missing (exec exited early): %w", s.where, s.left, io.ErrUnexpectedEOF)
	}
	if err != nil {
		return n, fmt.Errorf("stream %s: %w", s.where, err)
	}
	return n, nil
}

// Close stops the exec if it is still running and waits for it.
func (s *podStream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.cancel()
	s.pr.Close()
	<-s.done
	return nil
}

// exec runs cmd in the container with the given streams.
func (f *PodFiles) exec(ctx context.Context, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return f.Client.Exec(ctx, ExecTarget{Namespace: f.Namespace, Pod: f.Pod, Container: f.Container, AllowSPDY: f.AllowSPDY}, cmd, stdin, stdout, stderr)
}

// ExecTarget is the container an exec runs in.
type ExecTarget struct {
	Namespace, Pod, Container string
	// AllowSPDY lets the exec fall back to SPDY when the WebSocket upgrade
	// is refused (old API servers, proxies).
	AllowSPDY bool
}

// Executor runs a command in a container: pods/exec on the API server, or
// a fake in tests.
type Executor interface {
	// Exec runs cmd in the container with the given streams (nil for
	// none); ctx controls the whole session. A non-zero exit comes back as
	// an error with an ExitStatus method. It is not retried: the command
	// may have had effects.
	Exec(ctx context.Context, t ExecTarget, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error
}

var _ Executor = (*Client)(nil)

// Exec implements Executor, through c.Executor when set, else through the
// API server: WebSocket, and SPDY only when t allows the fallback.
func (c *Client) Exec(ctx context.Context, t ExecTarget, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if c.Executor != nil {
		return c.Executor.Exec(ctx, t, cmd, stdin, stdout, stderr)
	}
	req := c.API.CoreV1().RESTClient().Post().Resource("pods").Namespace(t.Namespace).Name(t.Pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: t.Container,
			Command:   cmd,
			Stdin:     stdin != nil,
			Stdout:    stdout != nil,
			Stderr:    stderr != nil,
		}, kubeapi.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(c.Config, "GET", req.URL().String())
	if err != nil {
		return fmt.Errorf("exec in pod %s/%s: %w", t.Namespace, t.Pod, err)
	}
	exec := ws
	if t.AllowSPDY {
		spdy, err := remotecommand.NewSPDYExecutor(c.Config, "POST", req.URL())
		if err != nil {
			return fmt.Errorf("exec in pod %s/%s: %w", t.Namespace, t.Pod, err)
		}
		if exec, err = remotecommand.NewFallbackExecutor(ws, spdy, shouldFallback); err != nil {
			return fmt.Errorf("exec in pod %s/%s: %w", t.Namespace, t.Pod, err)
		}
	}
	return exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// commitError is err, from a Commit's exec, as a *restore.NotSwappedError
// when the command surely never ran: the API server refused the connection
// (the pod is gone, say). Any other error may have come mid-swap. A refused
// SPDY fallback is not recognised (its error has no type), so it says less.
func commitError(err error) error {
	if httpstream.IsUpgradeFailure(err) {
		return &restore.NotSwappedError{Err: err}
	}
	return err
}
