package testcluster

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
)

// KeepEnv names the environment variable that, when set, keeps a failed
// test's namespace (and its local volumes) for inspection.
const KeepEnv = "RDBAK_E2E_KEEP"

// Timeouts of the helpers. They bound waits for a broken cluster; they are
// not assertions about speed.
const (
	waitTimeout    = 3 * time.Minute
	pollInterval   = 200 * time.Millisecond
	cleanupTimeout = 2 * time.Minute
)

// Namespace is a namespace owned by one test: created by NewNamespace,
// deleted with everything in it (and the local volumes and cluster-scoped
// objects the test made through it) when the test ends. If the test failed,
// the cleanup first logs events, pod states and container logs.
type Namespace struct {
	*Cluster
	// Name is the namespace's name; Apply puts namespaced objects here.
	Name string

	mu        sync.Mutex
	volumes   []string // PersistentVolume names made by LocalPV
	dirs      []string // their host directories
	clustered []clusterObject
}

type clusterObject struct {
	gvr  schema.GroupVersionResource
	name string
}

// New connects to the testbed and returns a fresh namespace for t.
func New(t testing.TB) *Namespace {
	t.Helper()
	return Connect(t).NewNamespace(t)
}

// NewNamespace creates a namespace named after t and registers its cleanup.
func (c *Cluster) NewNamespace(t testing.TB) *Namespace {
	t.Helper()
	n := &Namespace{Cluster: c, Name: namespaceName(t.Name())}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   n.Name,
		Labels: map[string]string{"app.kubernetes.io/managed-by": FieldManager},
	}}
	if _, err := c.Clientset.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", n.Name, err)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if t.Failed() {
			t.Log(n.Diagnostics(ctx))
			if os.Getenv(KeepEnv) != "" {
				t.Logf("kept namespace %s and its volumes (%s is set)", n.Name, KeepEnv)
				return
			}
		}
		n.delete(ctx, t)
	})
	return n
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// namespaceName derives a DNS label from the test name plus a random suffix,
// so reruns and parallel tests never collide.
func namespaceName(test string) string {
	base := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(test), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	return "e2e-" + base + "-" + strings.ToLower(rand.Text()[:6])
}

// delete removes the namespace, waits until its pods are gone (so no volume
// is still mounted), then removes the test's PersistentVolumes, their
// directories and its cluster-scoped objects.
func (n *Namespace) delete(ctx context.Context, t testing.TB) {
	cs := n.Clientset
	err := cs.CoreV1().Namespaces().Delete(ctx, n.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("delete namespace %s: %v", n.Name, err)
		return
	}
	err = wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods(n.Name).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(pods.Items) == 0, nil
	})
	if err != nil {
		t.Errorf("wait for the pods of namespace %s to go: %v", n.Name, err)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, pv := range n.volumes {
		err := cs.CoreV1().PersistentVolumes().Delete(ctx, pv, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete PersistentVolume %s: %v", pv, err)
		}
	}
	for _, d := range n.dirs {
		if err := os.RemoveAll(d); err != nil {
			t.Errorf("remove local volume directory: %v", err)
		}
	}
	for _, o := range n.clustered {
		err := n.Dynamic.Resource(o.gvr).Delete(ctx, o.name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete %s %s: %v", o.gvr.Resource, o.name, err)
		}
	}
}

func (n *Namespace) trackClusterObject(gvr schema.GroupVersionResource, obj *unstructured.Unstructured) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, o := range n.clustered {
		if o.gvr == gvr && o.name == obj.GetName() {
			return
		}
	}
	n.clustered = append(n.clustered, clusterObject{gvr: gvr, name: obj.GetName()})
}

// Diagnostics describes what the namespace holds, for a failed test's log:
// events, claims, pods with their conditions and container states, and the
// tail of every container's log (and of its previous run, if it restarted).
// Errors reading any part are reported inline.
func (n *Namespace) Diagnostics(ctx context.Context) string {
	cs := n.Clientset
	var b strings.Builder
	fmt.Fprintf(&b, "diagnostics of namespace %s:\n", n.Name)
	if evs, err := cs.CoreV1().Events(n.Name).List(ctx, metav1.ListOptions{}); err != nil {
		fmt.Fprintf(&b, "list events: %v\n", err)
	} else {
		sort.SliceStable(evs.Items, func(i, j int) bool { return eventTime(&evs.Items[i]).Before(eventTime(&evs.Items[j])) })
		for _, e := range evs.Items {
			if e.Reason == "MissingClusterDNS" {
				continue // every pod gets it: the testbed runs no cluster DNS
			}
			fmt.Fprintf(&b, "event %s %s %s/%s %s: %s (x%d)\n", eventTime(&e).Format("15:04:05.000"), e.Type,
				e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, strings.TrimSpace(e.Message), max(e.Count, 1))
		}
	}
	if pvcs, err := cs.CoreV1().PersistentVolumeClaims(n.Name).List(ctx, metav1.ListOptions{}); err != nil {
		fmt.Fprintf(&b, "list claims: %v\n", err)
	} else {
		for _, c := range pvcs.Items {
			fmt.Fprintf(&b, "claim %s: %s, volume %q\n", c.Name, c.Status.Phase, c.Spec.VolumeName)
		}
	}
	pods, err := cs.CoreV1().Pods(n.Name).List(ctx, metav1.ListOptions{})
	if err != nil {
		fmt.Fprintf(&b, "list pods: %v\n", err)
		return b.String()
	}
	for i := range pods.Items {
		describePod(&b, &pods.Items[i])
	}
	for _, p := range pods.Items {
		statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
		for _, s := range statuses {
			if s.State.Waiting != nil && s.LastTerminationState.Terminated == nil {
				continue // never started: no log to show
			}
			n.appendLog(ctx, &b, p.Name, s.Name, false)
			if s.RestartCount > 0 {
				n.appendLog(ctx, &b, p.Name, s.Name, true)
			}
		}
	}
	return b.String()
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	default:
		return e.CreationTimestamp.Time
	}
}

// describePod writes a pod's phase, conditions and container states, the
// part of `kubectl describe pod` that explains why it is not running.
func describePod(b *strings.Builder, p *corev1.Pod) {
	fmt.Fprintf(b, "pod %s: phase %s, node %q, ip %q", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.PodIP)
	if p.Status.Reason != "" || p.Status.Message != "" {
		fmt.Fprintf(b, ", %s: %s", p.Status.Reason, p.Status.Message)
	}
	b.WriteString("\n")
	for _, c := range p.Status.Conditions {
		fmt.Fprintln(b, strings.TrimRight(fmt.Sprintf("  condition %s=%s %s %s", c.Type, c.Status, c.Reason, c.Message), " "))
	}
	statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, s := range statuses {
		fmt.Fprintf(b, "  container %s: image %s, ready %t, restarts %d, state %s", s.Name, s.Image, s.Ready, s.RestartCount, containerState(s.State))
		if s.LastTerminationState.Terminated != nil {
			fmt.Fprintf(b, ", last state %s", containerState(s.LastTerminationState))
		}
		b.WriteString("\n")
	}
}

func containerState(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running since " + s.Running.StartedAt.Format(time.RFC3339)
	case s.Waiting != nil:
		return fmt.Sprintf("waiting (%s: %s)", s.Waiting.Reason, s.Waiting.Message)
	case s.Terminated != nil:
		return fmt.Sprintf("terminated (exit %d, %s: %s)", s.Terminated.ExitCode, s.Terminated.Reason, s.Terminated.Message)
	default:
		return "unknown"
	}
}

// appendLog appends the last lines of a container's log.
func (n *Namespace) appendLog(ctx context.Context, b *strings.Builder, pod, container string, previous bool) {
	tail := int64(60)
	raw, err := n.Clientset.CoreV1().Pods(n.Name).GetLogs(pod, &corev1.PodLogOptions{
		Container: container, TailLines: &tail, Previous: previous,
	}).DoRaw(ctx)
	which := "log"
	if previous {
		which = "previous log"
	}
	if err != nil {
		fmt.Fprintf(b, "--- %s of %s/%s: %v\n", which, pod, container, err)
		return
	}
	fmt.Fprintf(b, "--- %s of %s/%s (last %d lines):\n%s\n", which, pod, container, tail, strings.TrimRight(string(raw), "\n"))
}
