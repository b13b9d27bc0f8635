package kube

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/restore"
)

// Offline restores by scaling the workload to zero and writing the file
// from a short-lived restore pod that mounts the same volume (same
// subPath), running the rdbak image: it works whatever the Redis image has.
type Offline struct {
	Client   *Client
	Workload *Workload
	Pod      *corev1.Pod // the Redis pod as it was before the restore
	Mount    *DataMount
	Image    string // rdbak image for the restore pod
	// PullPolicy of the restore image; IfNotPresent when empty.
	PullPolicy corev1.PullPolicy
	AllowSPDY  bool
	Timeout    time.Duration // per wait (pods gone, restore pod running, Ready)
	// Save persists Redis's in-memory data before the stop (nil with AOF
	// on, which Redis fsyncs at shutdown): with save "" a stop would
	// otherwise lose it, and it becomes the .pre-restore to roll back to.
	Save func(ctx context.Context) error

	scaled bool
	// runID labels this restore's pod, so Undo finds it even when a
	// cancelled Create reached the API server without an answer.
	runID string
}

// restoreIDLabel marks the pods of one restore run.
const restoreIDLabel = "rdbak.io/restore-id"

var _ restore.Rollout = (*Offline)(nil)

func (o *Offline) wait() time.Duration {
	if o.Timeout <= 0 {
		return 5 * time.Minute
	}
	return o.Timeout
}

// Stop implements restore.Rollout.
func (o *Offline) Stop(ctx context.Context) error {
	c, w := o.Client, o.Workload
	if o.Save != nil {
		if err := o.Save(ctx); err != nil {
			return fmt.Errorf("save the current data before stopping Redis: %w", err)
		}
	}
	if err := c.Annotate(ctx, w, strconv.Itoa(int(w.Replicas))); err != nil {
		return err
	}
	o.scaled = true
	if err := c.Scale(ctx, w, 0); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, o.wait())
	defer cancel()
	return c.WaitGone(wctx, w)
}

// Install implements restore.Rollout.
func (o *Offline) Install(ctx context.Context, body io.Reader, in restore.Install) (*restore.Installed, error) {
	c, p := o.Client, o.Pod
	o.runID = rand.Text()[:12]
	pod := o.restorePodSpec()
	created, err := c.Clientset.CoreV1().Pods(p.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create restore pod: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, o.wait())
	defer cancel()
	err = Poll(wctx, c.every(500*time.Millisecond), "restore pod "+created.Name+" to run", func(ctx context.Context) (bool, error) {
		cur, err := c.Clientset.CoreV1().Pods(p.Namespace).Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range cur.Status.ContainerStatuses {
			if w := s.State.Waiting; w != nil && (strings.Contains(w.Reason, "Image") || strings.Contains(w.Reason, "ErrImage")) {
				return false, fmt.Errorf("restore pod cannot start image %s: %s: %s (set --restore-image to an rdbak image the cluster can pull)", o.Image, w.Reason, w.Message)
			}
		}
		if cur.Status.Phase == corev1.PodFailed || cur.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("restore pod %s ended (%s) before the restore", created.Name, cur.Status.Phase)
		}
		return cur.Status.Phase == corev1.PodRunning, nil
	})
	if err != nil {
		return nil, err
	}
	cmd := []string{"/rdbak", "receive", "--dir", in.Dir, "--dbfilename", in.DBFilename,
		"--size", strconv.FormatInt(in.Size, 10), "--sha256", in.SHA256}
	if in.AOF.Mode != "" {
		cmd = append(cmd, "--aof-mode", in.AOF.Mode, "--aof-dirname", in.AOF.DirName, "--aof-filename", in.AOF.FileName)
	}
	var stdout, stderr bytes.Buffer
	err = c.Exec(ctx, ExecTarget{Namespace: p.Namespace, Pod: created.Name, Container: "restore", AllowSPDY: o.AllowSPDY}, cmd, body, &stdout, &stderr)
	if err != nil {
		return nil, fmt.Errorf("receive in restore pod %s: %w: %s", created.Name, err, strings.TrimSpace(stderr.String()))
	}
	var out restore.Installed
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("receive in restore pod %s: unreadable result %q: %w", created.Name, stdout.String(), err)
	}
	return &out, nil
}

// restorePodSpec mounts the Redis pod's data volume at the same path with
// the same subPath, as the same user when the Redis pod names one (root
// otherwise, so it can write and hand files to the data dir's owner). The
// user is the Redis container's, the one that mounts the data, not a
// sidecar's.
func (o *Offline) restorePodSpec() *corev1.Pod {
	p := o.Pod
	var sc *corev1.SecurityContext
	for _, c := range p.Spec.Containers {
		if c.SecurityContext != nil && slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
			return m.Name == o.Mount.Volume.Name && m.MountPath == o.Mount.MountPath && m.SubPath == o.Mount.SubPath
		}) {
			sc = c.SecurityContext.DeepCopy()
			break
		}
	}
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	if sc.RunAsUser == nil && (p.Spec.SecurityContext == nil || p.Spec.SecurityContext.RunAsUser == nil) {
		root, no := int64(0), false
		sc.RunAsUser, sc.RunAsNonRoot = &root, &no
	}
	pull := o.PullPolicy
	if pull == "" {
		pull = corev1.PullIfNotPresent
	}
	vol := o.Mount.Volume.DeepCopy()
	vol.Name = "data"
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "rdbak-restore-",
			Namespace:    p.Namespace,
			Labels:       map[string]string{"app.kubernetes.io/name": "rdbak", "app.kubernetes.io/component": "restore", restoreIDLabel: strings.ToLower(o.runID)},
			Annotations:  map[string]string{"rdbak.io/restore-of": o.Workload.String()},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			SecurityContext:               p.Spec.SecurityContext.DeepCopy(),
			Tolerations:                   p.Spec.Tolerations,
			NodeSelector:                  p.Spec.NodeSelector,
			ImagePullSecrets:              p.Spec.ImagePullSecrets,
			TerminationGracePeriodSeconds: ptr(int64(1)),
			// It only receives the decrypted RDB through exec: no API
			// access, hence no ServiceAccount token in it.
			AutomountServiceAccountToken: ptr(false),
			Containers: []corev1.Container{{
				Name:            "restore",
				Image:           o.Image,
				ImagePullPolicy: pull,
				Args:            []string{"pause", "--for", o.wait().String()},
				SecurityContext: sc,
				VolumeMounts:    []corev1.VolumeMount{{Name: "data", MountPath: o.Mount.MountPath, SubPath: o.Mount.SubPath}},
			}},
			Volumes: []corev1.Volume{*vol},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// Start implements restore.Rollout.
func (o *Offline) Start(ctx context.Context) error {
	if err := o.deleteRestorePod(ctx); err != nil {
		return err
	}
	c, w := o.Client, o.Workload
	if err := c.Scale(ctx, w, w.Replicas); err != nil {
		return err
	}
	o.scaled = false
	if err := c.Annotate(ctx, w, ""); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, o.wait())
	defer cancel()
	return c.WaitReady(wctx, w)
}

func (o *Offline) deleteRestorePod(ctx context.Context) error {
	if o.runID == "" {
		return nil
	}
	ns := o.Pod.Namespace
	pods := o.Client.Clientset.CoreV1().Pods(ns)
	sel := metav1.ListOptions{LabelSelector: restoreIDLabel + "=" + strings.ToLower(o.runID)}
	l, err := pods.List(ctx, sel)
	if err != nil {
		return fmt.Errorf("find the restore pod: %w", err)
	}
	for _, p := range l.Items {
		if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete restore pod %s: %w", p.Name, err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, o.wait())
	defer cancel()
	if err := Poll(wctx, o.Client.every(300*time.Millisecond), "the restore pod to be gone", func(ctx context.Context) (bool, error) {
		l, err := pods.List(ctx, sel)
		return err == nil && len(l.Items) == 0, err
	}); err != nil {
		return err
	}
	o.runID = ""
	return nil
}

// Undo implements restore.Rollout.
func (o *Offline) Undo(ctx context.Context) error {
	if err := o.deleteRestorePod(ctx); err != nil {
		return err
	}
	if !o.scaled {
		return nil
	}
	if err := o.Client.Scale(ctx, o.Workload, o.Workload.Replicas); err != nil {
		return err
	}
	o.scaled = false
	return o.Client.Annotate(ctx, o.Workload, "")
}
