package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/rdbak/rdbak/restore"
)

// Workload is the StatefulSet or Deployment that owns a pod.
type Workload struct {
	restore.Workload
	Selector string
}

// RestoreReplicasAnnotation records, on a workload rdbak scaled down for a
// restore, the replica count to give it back; it is removed when the
// restore ends. Finding it means a restore was interrupted.
const RestoreReplicasAnnotation = "rdbak.io/restore-replicas"

// OwnerOf returns the workload of pod p (a ReplicaSet counts as its
// Deployment).
func (c *Client) OwnerOf(ctx context.Context, p *corev1.Pod) (*Workload, error) {
	ref := metav1.GetControllerOf(p)
	if ref == nil {
		return &Workload{Workload: restore.Workload{Namespace: p.Namespace, Name: p.Name, RestartPolicy: string(p.Spec.RestartPolicy)}}, nil
	}
	apps := c.API.AppsV1()
	switch ref.Kind {
	case "StatefulSet":
		s, err := apps.StatefulSets(p.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get statefulset %s/%s: %w", p.Namespace, ref.Name, err)
		}
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err != nil {
			return nil, err
		}
		return &Workload{Workload: restore.Workload{Kind: "StatefulSet", Namespace: p.Namespace, Name: s.Name, Replicas: replicas(s.Spec.Replicas)}, Selector: sel.String()}, nil
	case "ReplicaSet":
		// Reading the ReplicaSet is the one permission a Deployment adds;
		// check it first so a missing rule is named, not just forbidden.
		if err := c.Check(ctx, []Permission{{Group: "apps", Resource: "replicasets", Verb: "get", Namespace: p.Namespace, Name: ref.Name}}); err != nil {
			return nil, err
		}
		rs, err := apps.ReplicaSets(p.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get replicaset %s/%s: %w", p.Namespace, ref.Name, err)
		}
		dref := metav1.GetControllerOf(rs)
		if dref == nil || dref.Kind != "Deployment" {
			return nil, fmt.Errorf("pod %s/%s belongs to replicaset %s without a Deployment: rdbak restores Deployments, StatefulSets and bare pods", p.Namespace, p.Name, rs.Name)
		}
		d, err := apps.Deployments(p.Namespace).Get(ctx, dref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get deployment %s/%s: %w", p.Namespace, dref.Name, err)
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil {
			return nil, err
		}
		return &Workload{Workload: restore.Workload{Kind: "Deployment", Namespace: p.Namespace, Name: d.Name, Replicas: replicas(d.Spec.Replicas)}, Selector: sel.String()}, nil
	}
	return nil, fmt.Errorf("pod %s/%s is controlled by a %s: rdbak restores Deployments, StatefulSets and bare pods (an operator would fight the restore: pause it first)", p.Namespace, p.Name, ref.Kind)
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// Scale sets the workload's replica count through the scale subresource.
func (c *Client) Scale(ctx context.Context, w *Workload, n int32) error {
	s := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: w.Namespace}, Spec: autoscalingv1.ScaleSpec{Replicas: n}}
	var err error
	switch w.Kind {
	case "StatefulSet":
		_, err = c.API.AppsV1().StatefulSets(w.Namespace).UpdateScale(ctx, w.Name, s, metav1.UpdateOptions{})
	case "Deployment":
		_, err = c.API.AppsV1().Deployments(w.Namespace).UpdateScale(ctx, w.Name, s, metav1.UpdateOptions{})
	default:
		return fmt.Errorf("%s cannot be scaled", w)
	}
	if err != nil {
		return fmt.Errorf("scale %s to %d: %w", w, n, err)
	}
	return nil
}

// Annotate sets (value != "") or removes the restore annotation.
func (c *Client) Annotate(ctx context.Context, w *Workload, value string) error {
	var v any
	if value != "" {
		v = value
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{RestoreReplicasAnnotation: v}}})
	var err error
	switch w.Kind {
	case "StatefulSet":
		_, err = c.API.AppsV1().StatefulSets(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	case "Deployment":
		_, err = c.API.AppsV1().Deployments(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("annotate %s: %w", w, err)
	}
	return nil
}

// Poll calls cond every interval until it returns true, an error, or ctx
// ends; what names the wait in the timeout error.
func Poll(ctx context.Context, interval time.Duration, what string, cond func(ctx context.Context) (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond(ctx)
		if err != nil && ctx.Err() != nil {
			// A request cut by the deadline fails with the client's own
			// words ("client rate limiter Wait returned an error"): say
			// what was waited for.
			return fmt.Errorf("wait for %s: %w (last: %v)", what, ctx.Err(), err)
		}
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// every returns the interval of a wait: c.PollInterval when set, else def.
func (c *Client) every(def time.Duration) time.Duration {
	if c.PollInterval > 0 {
		return c.PollInterval
	}
	return def
}

// downtimePoll is the interval of the waits a restore's downtime is made
// of: a wait ends on average half an interval after what it waits for.
const downtimePoll = 100 * time.Millisecond

// WaitGone waits until no pod of w exists (terminated and removed).
func (c *Client) WaitGone(ctx context.Context, w *Workload) error {
	return Poll(ctx, c.every(downtimePoll), "the pods of "+w.String()+" to be gone", func(ctx context.Context) (bool, error) {
		l, err := c.API.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: w.Selector})
		if err != nil {
			return false, fmt.Errorf("list pods of %s: %w", w, err)
		}
		return len(l.Items) == 0, nil
	})
}

// WaitReady waits until w has its replicas Ready and up to date.
func (c *Client) WaitReady(ctx context.Context, w *Workload) error {
	return Poll(ctx, c.every(downtimePoll), w.String()+" to be Ready", func(ctx context.Context) (bool, error) {
		l, err := c.API.CoreV1().Pods(w.Namespace).List(ctx, metav1.ListOptions{LabelSelector: w.Selector})
		if err != nil {
			return false, fmt.Errorf("list pods of %s: %w", w, err)
		}
		ready := int32(0)
		for i := range l.Items {
			if Ready(&l.Items[i]) {
				ready++
			}
		}
		return ready == w.Replicas && int32(len(l.Items)) == w.Replicas, nil
	})
}

// DataMount is the volume that holds Redis's dir, as the Redis container
// mounts it.
type DataMount struct {
	Volume    corev1.Volume
	MountPath string
	SubPath   string
}

// DataVolume finds the volume mount of container that holds dir. It
// returns nil when dir is not on a volume (the container's own filesystem,
// lost on every restart).
func DataVolume(p *corev1.Pod, container, dir string) *DataMount {
	var best *corev1.VolumeMount
	for _, c := range p.Spec.Containers {
		if c.Name != container {
			continue
		}
		for i, m := range c.VolumeMounts {
			mp := path.Clean(m.MountPath)
			if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && (best == nil || len(mp) > len(path.Clean(best.MountPath))) {
				best = &c.VolumeMounts[i]
			}
		}
	}
	if best == nil {
		return nil
	}
	for _, v := range p.Spec.Volumes {
		if v.Name == best.Name {
			return &DataMount{Volume: v, MountPath: best.MountPath, SubPath: best.SubPath}
		}
	}
	return nil
}
