package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// ErrNoTarget means the target named no usable Redis pod: nothing matched,
// nothing was Ready, or several independent servers matched.
var ErrNoTarget = errors.New("no single Redis pod")

// Spec names a Redis in the cluster by exactly one of Pod, StatefulSet,
// Deployment, Selector or HelmRelease.
type Spec struct {
	Namespace   string
	Pod         string
	StatefulSet string
	Deployment  string
	Selector    string // label selector, e.g. app=redis
	HelmRelease string // Bitnami-style chart: app.kubernetes.io/instance=<release>
	// Component narrows a HelmRelease to master or replica pods
	// (app.kubernetes.io/component); empty means master.
	Component string
	Container string // the container that runs redis; found by port 6379 when empty
}

// Describe returns the kind and name of the spec, e.g. "statefulset prod/redis".
func (s Spec) Describe() string {
	switch {
	case s.Pod != "":
		return "pod " + s.Namespace + "/" + s.Pod
	case s.StatefulSet != "":
		return "statefulset " + s.Namespace + "/" + s.StatefulSet
	case s.Deployment != "":
		return "deployment " + s.Namespace + "/" + s.Deployment
	case s.HelmRelease != "":
		return "helm release " + s.Namespace + "/" + s.HelmRelease
	}
	return "pods in " + s.Namespace + " matching " + s.Selector
}

// Validate checks that exactly one way of naming the Redis is set.
func (s Spec) Validate() error {
	n := 0
	for _, v := range []string{s.Pod, s.StatefulSet, s.Deployment, s.Selector, s.HelmRelease} {
		if v != "" {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("name the Redis by exactly one of pod, statefulset, deployment, selector or helmRelease (got %d)", n)
	}
	if s.Namespace == "" {
		return errors.New("the namespace is empty")
	}
	if s.Selector != "" {
		if _, err := labels.Parse(s.Selector); err != nil {
			return fmt.Errorf("selector %q: %w", s.Selector, err)
		}
	}
	if s.Component != "" && s.HelmRelease == "" {
		return errors.New("component only applies to helmRelease")
	}
	return nil
}

// Candidates returns the Ready pods the spec names, sorted by name. A pod
// named directly that is not Ready is an error, not an empty list.
func (c *Client) Candidates(ctx context.Context, s Spec) ([]corev1.Pod, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	pods := c.API.CoreV1().Pods(s.Namespace)
	var all []corev1.Pod
	var interrupted string // the restore annotation of the workload named
	switch {
	case s.Pod != "":
		p, err := pods.Get(ctx, s.Pod, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: pod %s/%s does not exist", ErrNoTarget, s.Namespace, s.Pod)
		}
		if err != nil {
			return nil, fmt.Errorf("get pod %s/%s: %w", s.Namespace, s.Pod, err)
		}
		if !Ready(p) {
			return nil, fmt.Errorf("%w: pod %s/%s is not Ready (%s); rdbak works only with Ready pods%s", ErrNoTarget, s.Namespace, s.Pod, podState(p), crashHint(p))
		}
		return []corev1.Pod{*p}, nil
	default:
		sel, annotation, err := c.selector(ctx, s)
		if err != nil {
			return nil, err
		}
		interrupted = annotation
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, fmt.Errorf("list pods of %s: %w", s.Describe(), err)
		}
		all = list.Items
	}
	var ready []corev1.Pod
	var notReady []string
	hint := ""
	for i := range all {
		if Ready(&all[i]) {
			ready = append(ready, all[i])
		} else {
			notReady = append(notReady, all[i].Name+" ("+podState(&all[i])+")")
			if hint == "" {
				hint = crashHint(&all[i])
			}
		}
	}
	slices.SortFunc(ready, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	switch {
	case len(all) == 0 && interrupted != "":
		kind, name := "statefulset", s.StatefulSet
		if s.Deployment != "" {
			kind, name = "deployment", s.Deployment
		}
		return nil, fmt.Errorf("%w: %s matches no pods: a restore by rdbak scaled it to 0 and did not finish (annotation %s=%s); "+
			"it starts on the data that restore left in its volume (the restored file if it was swapped in, else the previous one; the previous data is kept as .pre-restore). "+
			"Bring it back: kubectl -n %[5]s delete pod -l app.kubernetes.io/component=restore; kubectl -n %[5]s scale %[6]s --replicas=%[4]s; kubectl -n %[5]s annotate %[6]s %[3]s-",
			ErrNoTarget, s.Describe(), RestoreReplicasAnnotation, interrupted, s.Namespace, kind+"/"+name)
	case len(all) == 0:
		return nil, fmt.Errorf("%w: %s matches no pods", ErrNoTarget, s.Describe())
	case len(ready) == 0:
		return nil, fmt.Errorf("%w: no pod of %s is Ready: %s%s", ErrNoTarget, s.Describe(), strings.Join(notReady, ", "), hint)
	}
	return ready, nil
}

// selector returns the label selector of the pods the spec names and, for
// a StatefulSet or Deployment, its RestoreReplicasAnnotation: the replica
// count an interrupted restore scaled it down from, "" when none.
func (c *Client) selector(ctx context.Context, s Spec) (string, string, error) {
	var sel *metav1.LabelSelector
	var interrupted string
	switch {
	case s.Selector != "":
		return s.Selector, "", nil
	case s.HelmRelease != "":
		comp := s.Component
		if comp == "" {
			comp = "master"
		}
		return "app.kubernetes.io/instance=" + s.HelmRelease + ",app.kubernetes.io/component=" + comp, "", nil
	case s.StatefulSet != "":
		sts, err := c.API.AppsV1().StatefulSets(s.Namespace).Get(ctx, s.StatefulSet, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "", "", fmt.Errorf("%w: statefulset %s/%s does not exist", ErrNoTarget, s.Namespace, s.StatefulSet)
		}
		if err != nil {
			return "", "", fmt.Errorf("get statefulset %s/%s: %w", s.Namespace, s.StatefulSet, err)
		}
		sel, interrupted = sts.Spec.Selector, sts.Annotations[RestoreReplicasAnnotation]
	case s.Deployment != "":
		d, err := c.API.AppsV1().Deployments(s.Namespace).Get(ctx, s.Deployment, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "", "", fmt.Errorf("%w: deployment %s/%s does not exist", ErrNoTarget, s.Namespace, s.Deployment)
		}
		if err != nil {
			return "", "", fmt.Errorf("get deployment %s/%s: %w", s.Namespace, s.Deployment, err)
		}
		sel, interrupted = d.Spec.Selector, d.Annotations[RestoreReplicasAnnotation]
	}
	ls, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "", "", fmt.Errorf("selector of %s: %w", s.Describe(), err)
	}
	return ls.String(), interrupted, nil
}

// Ready reports whether p is running, not terminating, and Ready.
func Ready(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podState says why p is not Ready: its phase and, for each container
// that is waiting or has restarted, why (CrashLoopBackOff, the last exit).
func podState(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "terminating"
	}
	state := string(p.Status.Phase)
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
			state += ", not ready"
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		var why []string
		if w := c.State.Waiting; w != nil && w.Reason != "" {
			why = append(why, w.Reason)
		}
		if t := c.LastTerminationState.Terminated; t != nil {
			why = append(why, fmt.Sprintf("last exit code %d (%s)", t.ExitCode, t.Reason))
		}
		if c.RestartCount > 0 {
			why = append(why, fmt.Sprintf("%d restarts", c.RestartCount))
		}
		if len(why) > 0 {
			state += "; container " + c.Name + ": " + strings.Join(why, ", ")
		}
	}
	return state
}

// crashHint is what to do when a container of p is in CrashLoopBackOff:
// rdbak backs up and restores only a running Redis. "" when none is.
func crashHint(p *corev1.Pod) string {
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
			return fmt.Sprintf(". Redis keeps failing to start: kubectl -n %s logs %s -c %s --previous says why. rdbak restores only into a running Redis: "+
				"if its data file is damaged (or too large for its memory limit), scale the workload to 0, move the file aside from a pod that mounts the volume, "+
				"scale back so that Redis starts empty, then restore (deploy/runbooks/dr-lost-pvc.md)", p.Namespace, p.Name, c.Name)
		}
	}
	return ""
}

// RedisContainer returns the container of p that runs Redis: the one named
// name, else the one exposing port 6379 (or a port named redis), else the
// only container. It also returns the Redis port.
func RedisContainer(p *corev1.Pod, name string) (string, int, error) {
	port := func(c corev1.Container) int {
		for _, cp := range c.Ports {
			if cp.ContainerPort == 6379 || cp.Name == "redis" || cp.Name == "tcp-redis" {
				return int(cp.ContainerPort)
			}
		}
		return 0
	}
	var names []string
	for _, c := range p.Spec.Containers {
		names = append(names, c.Name)
		if name != "" && c.Name == name {
			if pt := port(c); pt != 0 {
				return c.Name, pt, nil
			}
			return c.Name, 6379, nil
		}
	}
	if name != "" {
		return "", 0, fmt.Errorf("pod %s/%s has no container %q (it has %s)", p.Namespace, p.Name, name, strings.Join(names, ", "))
	}
	for _, c := range p.Spec.Containers {
		if pt := port(c); pt != 0 {
			return c.Name, pt, nil
		}
	}
	if len(p.Spec.Containers) == 1 {
		return p.Spec.Containers[0].Name, 6379, nil
	}
	return "", 0, fmt.Errorf("pod %s/%s has containers %s and none exposes port 6379: name the Redis container (--container)", p.Namespace, p.Name, strings.Join(names, ", "))
}
