package testcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// FieldManager is the server-side apply field manager of the helpers, and the
// managed-by label of the namespaces they create.
const FieldManager = "rdbak-e2e"

// Apply server-side applies every object of a YAML or JSON manifest (several
// documents separated by ---), in order, and returns them as the server
// stored them. Namespaced objects without a namespace go into n; objects of
// cluster-scoped kinds are deleted when the test ends.
func (n *Namespace) Apply(t testing.TB, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := yamlutil.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("decode manifest document %d: %v", len(out)+1, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		applied, err := n.applyObject(t.Context(), obj)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		out = append(out, applied)
	}
}

func (n *Namespace) applyObject(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	m, err := n.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("map kind %s of %q: %w", gvk, obj.GetName(), err)
	}
	res := n.Dynamic.Resource(m.Resource)
	var ri dynamic.ResourceInterface = res
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(n.Name)
		}
		ri = res.Namespace(obj.GetNamespace())
	} else {
		n.trackClusterObject(m.Resource, obj)
	}
	applied, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return nil, fmt.Errorf("apply %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return applied, nil
}

// WaitFor polls cond until it reports true, and fails t when it returns an
// error or the wait times out; what names the condition in the failure.
func (n *Namespace) WaitFor(t testing.TB, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, pollInterval, true, cond); err != nil {
		t.Fatalf("wait for %s in namespace %s: %v", what, n.Name, err)
	}
}

// WaitStatefulSet waits until the StatefulSet's controller has seen its
// latest spec and every replica is ready and at the update revision (what
// `kubectl rollout status` checks).
func (n *Namespace) WaitStatefulSet(t testing.TB, name string) *appsv1.StatefulSet {
	t.Helper()
	var sts *appsv1.StatefulSet
	n.WaitFor(t, "rollout of statefulset "+name, func(ctx context.Context) (bool, error) {
		var err error
		sts, err = n.Clientset.AppsV1().StatefulSets(n.Name).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, notFoundIsPending(err)
		}
		s := sts.Status
		want := int32(1)
		if sts.Spec.Replicas != nil {
			want = *sts.Spec.Replicas
		}
		return s.ObservedGeneration >= sts.Generation && s.ReadyReplicas == want &&
			s.UpdatedReplicas == want && s.CurrentRevision == s.UpdateRevision, nil
	})
	return sts
}

// WaitDeployment waits until the Deployment's controller has seen its latest
// spec, all replicas are updated and available and no old ones remain.
func (n *Namespace) WaitDeployment(t testing.TB, name string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	n.WaitFor(t, "rollout of deployment "+name, func(ctx context.Context) (bool, error) {
		var err error
		d, err = n.Clientset.AppsV1().Deployments(n.Name).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, notFoundIsPending(err)
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
				return false, fmt.Errorf("deployment %s: %s", name, c.Message)
			}
		}
		s := d.Status
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want &&
			s.Replicas == want && s.AvailableReplicas == want, nil
	})
	return d
}

// PodReady reports whether the pod's Ready condition is true.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitPod waits until pod name exists and ok accepts it, and returns it.
func (n *Namespace) WaitPod(t testing.TB, name, what string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	n.WaitFor(t, "pod "+name+" "+what, func(ctx context.Context) (bool, error) {
		var err error
		pod, err = n.Clientset.CoreV1().Pods(n.Name).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, notFoundIsPending(err)
		}
		return ok(pod), nil
	})
	return pod
}

// WaitPodReady waits until pod name is Ready.
func (n *Namespace) WaitPodReady(t testing.TB, name string) *corev1.Pod {
	t.Helper()
	return n.WaitPod(t, name, "to be Ready", PodReady)
}

// RecreatePod deletes pod name and waits for its controller's replacement
// (same name, new UID) to be Ready: a StatefulSet pod restarting from its
// volume, as after a restore.
func (n *Namespace) RecreatePod(t testing.TB, name string) *corev1.Pod {
	t.Helper()
	old, err := n.Clientset.CoreV1().Pods(n.Name).Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod %s/%s: %v", n.Name, name, err)
	}
	if err := n.Clientset.CoreV1().Pods(n.Name).Delete(t.Context(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete pod %s/%s: %v", n.Name, name, err)
	}
	return n.WaitPod(t, name, "to be replaced and Ready", func(p *corev1.Pod) bool {
		return p.UID != old.UID && PodReady(p)
	})
}

// notFoundIsPending turns NotFound into "not yet" for polls of objects a
// controller is about to create.
func notFoundIsPending(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
