package testcluster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"

	"github.com/rdbak/rdbak/internal/testenv"
)

// ExecOptions are the streams of an Exec. A nil stream is not requested from
// the kubelet; a command that reads stdin gets EOF when Stdin is drained.
type ExecOptions struct {
	// Container defaults to the pod's only (or default) container.
	Container string
	Stdin     io.Reader
	Stdout    io.Writer
	Stderr    io.Writer
}

// Exec runs cmd in pod over client-go's WebSocket executor (the v5 channel
// protocol, which can half-close stdin), streaming the given streams. A
// non-zero exit status comes back as an error satisfying
// errors.As(err, new(k8s.io/client-go/util/exec.ExitError)).
func (n *Namespace) Exec(ctx context.Context, pod string, cmd []string, o ExecOptions) error {
	req := n.Clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(n.Name).Name(pod).
		SubResource("exec").VersionedParams(&corev1.PodExecOptions{
		Container: o.Container,
		Command:   cmd,
		Stdin:     o.Stdin != nil,
		Stdout:    o.Stdout != nil,
		Stderr:    o.Stderr != nil,
	}, scheme.ParameterCodec)
	ex, err := remotecommand.NewWebSocketExecutor(n.Config, "GET", req.URL().String())
	if err != nil {
		return fmt.Errorf("build exec executor for pod %s/%s: %w", n.Name, pod, err)
	}
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr})
	if err != nil {
		return fmt.Errorf("exec %q in pod %s/%s: %w", cmd, n.Name, pod, err)
	}
	return nil
}

// Run execs cmd in pod with no stdin and returns its stdout; it fails t,
// quoting stderr, when the command cannot run or exits non-zero.
func (n *Namespace) Run(t testing.TB, pod string, cmd ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := n.Exec(t.Context(), pod, cmd, ExecOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("%s in pod %s: %v; stdout: %q; stderr: %q", strings.Join(cmd, " "), pod, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// PortForward forwards a free port on 127.0.0.1 to port of pod, as
// `kubectl port-forward` does (WebSocket tunnel, SPDY when the server cannot
// upgrade), and returns the local address. The forward stops when the test
// ends; errors it reports on the way are logged then.
func (n *Namespace) PortForward(t testing.TB, pod string, port int) string {
	t.Helper()
	url := n.Clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(n.Name).Name(pod).
		SubResource("portforward").URL()
	rt, upgrader, err := spdy.RoundTripperFor(n.Config)
	if err != nil {
		t.Fatalf("build SPDY round tripper: %v", err)
	}
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: rt}, "POST", url)
	tunnel, err := portforward.NewSPDYOverWebsocketDialer(url, n.Config)
	if err != nil {
		t.Fatalf("build WebSocket port-forward dialer: %v", err)
	}
	dialer = portforward.NewFallbackDialer(tunnel, dialer, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	stop, ready := make(chan struct{}), make(chan struct{})
	var errOut testenv.Buffer
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stop, ready, io.Discard, &errOut)
	if err != nil {
		t.Fatalf("set up port-forward to %s/%s:%d: %v", n.Name, pod, port, err)
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("port-forward to %s/%s:%d: %v; %s", n.Name, pod, port, err, errOut.String())
	}
	t.Cleanup(func() {
		close(stop)
		if err := <-done; err != nil {
			t.Logf("port-forward to %s/%s:%d ended: %v", n.Name, pod, port, err)
		}
		if s := errOut.String(); s != "" {
			t.Logf("port-forward to %s/%s:%d reported: %s", n.Name, pod, port, strings.TrimSpace(s))
		}
	})
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		t.Fatalf("local port of port-forward to %s/%s:%d: %v (%d ports)", n.Name, pod, port, err, len(ports))
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local)))
}
