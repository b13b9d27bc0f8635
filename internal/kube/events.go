package kube

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Event reasons rdbak records on the workload it backs up.
const (
	ReasonBackupSucceeded = "BackupSucceeded"
	ReasonBackupFailed    = "BackupFailed"
	ReasonDrillSucceeded  = "DrillSucceeded"
	ReasonDrillFailed     = "DrillFailed"
)

// Recorder writes Events about one object, for `kubectl describe` and
// alerting on Warning events.
type Recorder struct {
	client *Client
	ref    corev1.ObjectReference
}

// RecorderFor returns a recorder for the workload the spec names (its
// StatefulSet or Deployment), or for pod when the spec names pods.
func (c *Client) RecorderFor(ctx context.Context, s Spec, pod *corev1.Pod) (*Recorder, error) {
	ref := corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}
	apps := c.API.AppsV1()
	switch {
	case s.StatefulSet != "":
		o, err := apps.StatefulSets(s.Namespace).Get(ctx, s.StatefulSet, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get statefulset %s/%s: %w", s.Namespace, s.StatefulSet, err)
		}
		ref = corev1.ObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Namespace: o.Namespace, Name: o.Name, UID: o.UID}
	case s.Deployment != "":
		o, err := apps.Deployments(s.Namespace).Get(ctx, s.Deployment, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get deployment %s/%s: %w", s.Namespace, s.Deployment, err)
		}
		ref = corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: o.Namespace, Name: o.Name, UID: o.UID}
	}
	return &Recorder{client: c, ref: ref}, nil
}

// Record creates one Event; warning marks a failure.
func (r *Recorder) Record(ctx context.Context, reason, message string, warning bool) error {
	typ := corev1.EventTypeNormal
	if warning {
		typ = corev1.EventTypeWarning
	}
	host, _ := os.Hostname()
	now := metav1.NewTime(time.Now())
	if len(message) > 1024 {
		message = message[:1021] + "..."
	}
	ev := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{GenerateName: strings.ToLower(r.ref.Name) + ".", Namespace: r.ref.Namespace},
		InvolvedObject:      r.ref,
		Reason:              reason,
		Message:             message,
		Type:                typ,
		Source:              corev1.EventSource{Component: "rdbak", Host: host},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		ReportingController: "rdbak.io/rdbak",
		ReportingInstance:   host,
		Action:              action(reason),
	}
	if _, err := r.client.API.CoreV1().Events(r.ref.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("record event %s on %s %s/%s: %w", reason, strings.ToLower(r.ref.Kind), r.ref.Namespace, r.ref.Name, err)
	}
	return nil
}

// action is the Event's action: Drill for the drill reasons, else Backup.
func action(reason string) string {
	if strings.HasPrefix(reason, "Drill") {
		return "Drill"
	}
	return "Backup"
}
