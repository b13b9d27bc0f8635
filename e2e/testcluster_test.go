//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/testcluster"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestDiagnostics checks that what a failed test gets logged explains the
// usual failures: a crash-looping container (state, exit code, its log and
// its previous run's log) and an image missing from the node (events).
func TestDiagnostics(t *testing.T) {
	ns := testcluster.New(t)
	ns.Apply(t, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers:
  - name: c
    image: %s
    imagePullPolicy: Never
    command: [sh, -c, "echo diag-marker; exit 3"]
---
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  containers:
  - name: c
    image: rdbak.local/not-imported:1
    imagePullPolicy: Never
`, ns.RedisImage(t)))
	ns.WaitPod(t, "crasher", "to have restarted", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount > 0 &&
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated != nil
	})
	ns.WaitPod(t, "noimage", "to wait for its image", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
			p.Status.ContainerStatuses[0].State.Waiting.Reason == "ErrImageNeverPull"
	})

	d := ns.Diagnostics(t.Context())
	for _, want := range []string{
		"diagnostics of namespace " + ns.Name,
		"pod crasher: phase Running",
		"exit 3",
		"--- log of crasher/c",
		"--- previous log of crasher/c",
		"diag-marker",
		"pod noimage: phase Pending",
		"waiting (ErrImageNeverPull",
		"Pod/noimage ErrImageNeverPull",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("diagnostics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("diagnostics were:\n%s", d)
	}
}

// TestNamespaceCleanup checks that when a test ends, its namespace goes with
// its pods, and so do its local PersistentVolumes, their directories and the
// cluster-scoped objects it applied.
func TestNamespaceCleanup(t *testing.T) {
	c := testcluster.Connect(t)
	var name, dir, pv string
	role := "e2e-cleanup-" + strings.ToLower(t.Name())
	t.Run("user", func(t *testing.T) {
		ns := c.NewNamespace(t)
		name = ns.Name
		p := ns.LocalPV(t, "data-redis-0", "1Gi")
		pv, dir = p.Name, p.Spec.Local.Path
		ns.Apply(t, fmt.Sprintf(redisStatefulSet, ns.RedisImage(t))+`
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: `+role+`}
rules: []
`)
		ns.WaitStatefulSet(t, "redis")
		ns.Run(t, "redis-0", "sh", "-c", "echo x >/data/f")
		if _, err := os.Stat(dir + "/f"); err != nil {
			t.Fatalf("file written in the pod is not in the local volume: %v", err)
		}
	})
	ctx := context.Background()
	cs := c.Clientset
	pods, err := cs.CoreV1().Pods(name).List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) != 0 {
		t.Errorf("pods of %s after cleanup: %d, err %v; want none", name, len(pods.Items), err)
	}
	if ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); err == nil && ns.DeletionTimestamp == nil {
		t.Errorf("namespace %s is not being deleted", name)
	}
	// One read: the pv-protection finalizer may still hold the volume while
	// its claim goes, and may let it go at any moment.
	if p, err := cs.CoreV1().PersistentVolumes().Get(ctx, pv, metav1.GetOptions{}); err == nil && p.DeletionTimestamp == nil {
		t.Errorf("PersistentVolume %s after cleanup: still there and not being deleted", pv)
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("PersistentVolume %s after cleanup: %v, want it gone or being deleted", pv, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("local volume directory %s after cleanup: %v, want it gone", dir, err)
	}
	gvr := schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	if _, err := c.Dynamic.Resource(gvr).Get(ctx, role, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("ClusterRole %s after cleanup: err %v, want NotFound", role, err)
	}
}
