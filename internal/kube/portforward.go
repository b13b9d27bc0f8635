package kube

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Forward is a port-forward from 127.0.0.1 to a pod, as kubectl
// port-forward does it.
type Forward struct {
	Addr string // local host:port
	stop chan struct{}
	done chan error
	errs *syncBuffer
	once sync.Once
}

// PortForward forwards a free local port to port of pod ns/name over a
// WebSocket tunnel, falling back to SPDY only when the server cannot
// upgrade. The caller closes the Forward.
func (c *Client) PortForward(ctx context.Context, ns, pod string, port int) (*Forward, error) {
	url := c.API.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	rt, upgrader, err := spdy.RoundTripperFor(c.Config)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s/%s: %w", ns, pod, err)
	}
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: rt}, "POST", url)
	tunnel, err := portforward.NewSPDYOverWebsocketDialer(url, c.Config)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s/%s: %w", ns, pod, err)
	}
	dialer = portforward.NewFallbackDialer(tunnel, dialer, shouldFallback)
	f := &Forward{stop: make(chan struct{}), done: make(chan error, 1), errs: &syncBuffer{}}
	ready := make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, f.stop, ready, io.Discard, f.errs)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %w", ns, pod, port, err)
	}
	go func() { f.done <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-f.done:
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %w %s", ns, pod, port, err, strings.TrimSpace(f.errs.String()))
	case <-ctx.Done():
		close(f.stop)
		<-f.done
		return nil, fmt.Errorf("port-forward to %s/%s:%d: %w", ns, pod, port, ctx.Err())
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) != 1 {
		f.Close()
		return nil, fmt.Errorf("port-forward to %s/%s:%d: no local port (%v)", ns, pod, port, err)
	}
	f.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local)))
	return f, nil
}

// Close stops the forward.
func (f *Forward) Close() error {
	var err error
	f.once.Do(func() {
		close(f.stop)
		err = <-f.done
	})
	return err
}

// shouldFallback lets the SPDY fallback happen only when the WebSocket
// upgrade itself was refused: a predicate that says yes on other errors (or
// on nil, which client-go also passes) would run a command twice.
func shouldFallback(err error) bool {
	return err != nil && (httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err))
}

// SecretValue returns key of Secret ns/name, without trailing newlines.
func (c *Client) SecretValue(ctx context.Context, ns, name, key string) (string, error) {
	v, err := c.SecretData(ctx, ns, name, key)
	if err != nil {
		return "", err
	}
	return string(bytes.TrimRight(v, "\r\n")), nil
}

// SecretData returns key of Secret ns/name as stored. Errors name the
// Secret and the key, never a value: a missing Secret, a missing key (with
// the keys it has), and a Secret rdbak may not read (wrapping
// ErrForbidden, with the Role rule that grants it).
func (c *Client) SecretData(ctx context.Context, ns, name, key string) ([]byte, error) {
	s, err := c.API.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("secret %s/%s does not exist", ns, name)
	case apierrors.IsForbidden(err):
		p := Permission{Resource: "secrets", Verb: "get", Namespace: ns, Name: name}
		return nil, fmt.Errorf("%w:\n  - %s\nhint: a Role in namespace %s with these rules grants it:\n%s", ErrForbidden, p, ns, roleRules([]Permission{p}))
	case err != nil:
		return nil, fmt.Errorf("read secret %s/%s: %w", ns, name, err)
	}
	v, ok := s.Data[key]
	if !ok {
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("secret %s/%s has no key %q (it has: %s)", ns, name, key, strings.Join(keys, ", "))
	}
	return v, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
