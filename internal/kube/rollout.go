package kube

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
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

// Offline restores a workload whose data is on a volume another pod can
// mount: a short-lived staging pod running the rdbak image, pinned to the
// Redis pod's node and mounting the same volume (same subPath), receives
// and checks the file beside the live data while Redis serves; only then
// is Redis stopped (save points off first, so its shutdown writes nothing),
// the staged file swapped in from the staging pod, and the workload scaled
// back, or, with Restart, the container restarted. It works whatever the
// Redis image has.
type Offline struct {
	Client   *Client
	Workload *Workload
	Pod      *corev1.Pod // the Redis pod as it was before the restore
	// Container is the Redis container, through which Undo removes a
	// staged file when the staging pod is gone (it needs sh and rm).
	Container string
	Mount     *DataMount
	// Redis is the running server, whose save points Stop turns off so
	// that the shutdown of the scale-down writes nothing.
	Redis RedisAdmin
	Image string // rdbak image for the staging pod
	// PullPolicy of the restore image; IfNotPresent when empty.
	PullPolicy corev1.PullPolicy
	// Resources of the staging pod's container; none when empty.
	Resources corev1.ResourceRequirements
	AllowSPDY bool
	Timeout   time.Duration // per wait (pods gone, staging pod running, Ready)
	// Restart, when set, makes the stop and the start a restart of the
	// Redis container instead of a scale to zero and back (the restart
	// strategy): Stop turns every save, and AOF, off in the running Redis
	// through it; the staged files are swapped in from the staging pod
	// under that Redis, which does not read them; Start makes it exit
	// without saving, so that the kubelet restarts the container on them.
	// That skips the pod's deletion, scheduling and sandbox. A Redis that
	// refuses CONFIG SET or SHUTDOWN (ACL, renamed command) is scaled
	// instead, and Fallback says why.
	Restart *InPlace
	// Fallback is called with the reason when a restart falls back to
	// scaling.
	Fallback func(reason error)

	restarting bool // Stop turned every save off through Restart
	scaled     bool
	savesOff   bool
	oldSave    string
	staging    string // the staging pod's name once it runs
	committed  bool
	// runID labels this restore's pod, so Undo finds it even when a
	// cancelled Create reached the API server without an answer.
	runID string
	in    restore.Install
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

// Stage implements restore.Rollout.
func (o *Offline) Stage(ctx context.Context, body io.Reader, in restore.Install) error {
	c, p := o.Client, o.Pod
	o.runID, o.in = rand.Text()[:12], in
	created, err := o.createStaging(ctx, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, o.wait())
	defer cancel()
	err = Poll(wctx, c.every(200*time.Millisecond), "staging pod "+created.Name+" to run", func(ctx context.Context) (bool, error) {
		cur, err := c.API.CoreV1().Pods(p.Namespace).Get(ctx, created.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range cur.Status.ContainerStatuses {
			if w := s.State.Waiting; w != nil && (strings.Contains(w.Reason, "Image") || strings.Contains(w.Reason, "ErrImage")) {
				return false, fmt.Errorf("staging pod cannot start image %s: %s: %s (set --restore-image to an rdbak image the cluster can pull)", o.Image, w.Reason, w.Message)
			}
		}
		if cur.Status.Phase == corev1.PodFailed || cur.Status.Phase == corev1.PodSucceeded {
			return false, fmt.Errorf("staging pod %s ended (%s) before the restore", created.Name, cur.Status.Phase)
		}
		return cur.Status.Phase == corev1.PodRunning, nil
	})
	if err != nil {
		return err
	}
	o.staging = created.Name
	_, err = o.receive(ctx, "stage", body)
	return err
}

// TryStaging asks the API server to admit the staging pod without creating
// it (a server-side dry run), so that what would refuse it (a ResourceQuota,
// a LimitRange, the namespace's Pod Security level) refuses it while the
// restore is planned. A refusal is an error that IsStagingRefused reports.
func (o *Offline) TryStaging(ctx context.Context) error {
	_, err := o.createStaging(ctx, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	return err
}

// IsStagingRefused reports whether err, from TryStaging or Stage, is the
// API server refusing the staging pod itself (Forbidden or Invalid), which
// a real create would be too; any other error (a webhook that does not
// support dry runs, the network) says nothing about the pod.
func IsStagingRefused(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsInvalid(err)
}

// createStaging creates the staging pod with opts.
func (o *Offline) createStaging(ctx context.Context, opts metav1.CreateOptions) (*corev1.Pod, error) {
	created, err := o.Client.API.CoreV1().Pods(o.Pod.Namespace).Create(ctx, o.restorePodSpec(), opts)
	if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "quota") {
		return nil, fmt.Errorf("create staging pod: %w (give it resources that fit the namespace's ResourceQuota with --restore-requests and --restore-limits, e.g. --restore-requests cpu=100m,memory=64Mi --restore-limits cpu=1,memory=256Mi)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("create staging pod: %w", err)
	}
	return created, nil
}

// receive runs `rdbak receive --phase phase` in the staging pod.
func (o *Offline) receive(ctx context.Context, phase string, body io.Reader) ([]byte, error) {
	in := o.in
	cmd := []string{"/rdbak", "receive", "--phase", phase, "--dir", in.Dir, "--dbfilename", in.DBFilename,
		"--size", strconv.FormatInt(in.Size, 10), "--sha256", in.SHA256}
	if in.AOF.Mode != "" {
		cmd = append(cmd, "--aof-mode", in.AOF.Mode, "--aof-dirname", in.AOF.DirName, "--aof-filename", in.AOF.FileName)
	}
	if in.Codec != "" {
		cmd = append(cmd, "--codec", in.Codec)
	}
	var stdout, stderr bytes.Buffer
	err := o.Client.Exec(ctx, ExecTarget{Namespace: o.Pod.Namespace, Pod: o.staging, Container: "restore", AllowSPDY: o.AllowSPDY}, cmd, body, &stdout, &stderr)
	if err != nil {
		if strings.Contains(stderr.String(), "unknown flag") {
			err = fmt.Errorf("%w: the restore image %s is older than this rdbak; give --restore-image the image of this rdbak's version", err, o.Image)
		}
		return nil, fmt.Errorf("%s in staging pod %s: %w", phase, o.staging, withStderr(err, stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Stop implements restore.Rollout. With Restart it turns every save off
// in the running Redis, which keeps serving; otherwise, or when Redis
// refuses, it turns the save points off, so that Redis exits at once on
// the scale-down's SIGTERM instead of writing its memory to disk first
// (Apply's Save has just done that), then scales to zero and waits until
// the pod is gone.
func (o *Offline) Stop(ctx context.Context) error {
	if o.Restart != nil {
		// Setting the save points to what they are changes nothing and
		// says whether this Redis user may set them (an ACL, a renamed
		// CONFIG); Restart.Stop may then change them, and put them back.
		save, err := o.Redis.ConfigGet(ctx, "save")
		if err == nil {
			err = o.Redis.ConfigSet(ctx, "save", save)
		}
		if err == nil {
			if err = o.Restart.Stop(ctx); err == nil {
				o.restarting = true
				return nil
			}
			if uerr := o.Restart.Undo(ctx); uerr != nil {
				return errors.Join(err, uerr)
			}
		}
		o.fallback(fmt.Errorf("turn saves off for a restart in place: %w", err))
	}
	return o.scaleDown(ctx)
}

func (o *Offline) fallback(reason error) {
	if o.Fallback != nil {
		o.Fallback(reason)
	}
}

// scaleDown is Stop by scaling the workload to zero.
func (o *Offline) scaleDown(ctx context.Context) error {
	c, w := o.Client, o.Workload
	// Only the downtime depends on it: a shutdown save writes dbfilename,
	// never the staged file, and happens before the pod is gone. A user
	// without +config|set keeps the save (and the longer stop).
	if save, err := o.Redis.ConfigGet(ctx, "save"); err == nil && save != "" {
		if err := o.Redis.ConfigSet(ctx, "save", ""); err == nil {
			o.oldSave, o.savesOff = save, true
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

// Commit implements restore.Rollout.
func (o *Offline) Commit(ctx context.Context, in restore.Install) (*restore.Installed, error) {
	if o.restarting && in.AOF.Mode != "" && !o.Restart.aofOff {
		return nil, fmt.Errorf("install an AOF under the running Redis of pod %s/%s: AOF was not turned off, so Redis could write to the files being replaced", o.Pod.Namespace, o.Pod.Name)
	}
	o.in = in
	stdout, err := o.receive(ctx, "commit", nil)
	if err != nil {
		return nil, commitError(err)
	}
	o.committed = true
	var out restore.Installed
	if err := json.Unmarshal(stdout, &out); err != nil {
		return nil, fmt.Errorf("commit in staging pod %s: unreadable result %q: %w", o.staging, stdout, err)
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
			RestartPolicy:   corev1.RestartPolicyNever,
			SecurityContext: p.Spec.SecurityContext.DeepCopy(),
			// The Redis pod's node: a ReadWriteOnce claim mounts in a
			// second pod only there, and the kubelet starts it without
			// waiting for the scheduler.
			NodeName:                      p.Spec.NodeName,
			Tolerations:                   p.Spec.Tolerations,
			NodeSelector:                  p.Spec.NodeSelector,
			ImagePullSecrets:              p.Spec.ImagePullSecrets,
			TerminationGracePeriodSeconds: ptr(int64(1)),
			// It only receives the decrypted backup through exec: no API
			// access, hence no ServiceAccount token in it.
			AutomountServiceAccountToken: ptr(false),
			Containers: []corev1.Container{{
				Name:            "restore",
				Image:           o.Image,
				ImagePullPolicy: pull,
				// It lives through the stage, stop, commit and start.
				Args:            []string{"pause", "--for", (4 * o.wait()).String()},
				SecurityContext: sc,
				Resources:       *o.Resources.DeepCopy(),
				VolumeMounts:    []corev1.VolumeMount{{Name: "data", MountPath: o.Mount.MountPath, SubPath: o.Mount.SubPath}},
			}},
			Volumes: []corev1.Volume{*vol},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// Start implements restore.Rollout: restart the Redis container (Restart)
// or scale back, remove the staging pod while Redis starts, and wait until
// it is Ready.
func (o *Offline) Start(ctx context.Context) error {
	if o.restarting {
		return o.restart(ctx)
	}
	return o.scaleUp(ctx)
}

// restart is Start by restarting the Redis container (Restart), with
// the staging pod removed meanwhile. When Redis refuses to shut down, its
// saves are still off, so the workload is scaled to zero and back: its
// shutdown then writes nothing over the swapped files.
func (o *Offline) restart(ctx context.Context) error {
	if err := o.deleteRestorePod(ctx, false); err != nil {
		return err
	}
	err := o.Restart.Start(ctx)
	if err == nil || !o.Restart.stopped {
		// Redis exited: whatever the wait says, it starts on the
		// installed files.
		o.restarting = false
	} else {
		o.fallback(fmt.Errorf("make Redis exit without saving: %w", err))
		if err = o.scaleDown(ctx); err == nil {
			o.restarting = false
			err = o.scaleUp(ctx)
		}
	}
	if err != nil {
		return err
	}
	return o.deleteRestorePod(ctx, true)
}

// scaleUp is Start by scaling the workload back.
func (o *Offline) scaleUp(ctx context.Context) error {
	c, w := o.Client, o.Workload
	if err := c.Scale(ctx, w, w.Replicas); err != nil {
		return err
	}
	o.scaled = false
	if err := c.Annotate(ctx, w, ""); err != nil {
		return err
	}
	if err := o.deleteRestorePod(ctx, false); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, o.wait())
	defer cancel()
	if err := c.WaitReady(wctx, w); err != nil {
		return err
	}
	return o.deleteRestorePod(ctx, true)
}

// deleteRestorePod deletes this run's staging pod and, with wait, waits
// until it is gone.
func (o *Offline) deleteRestorePod(ctx context.Context, wait bool) error {
	if o.runID == "" {
		return nil
	}
	ns := o.Pod.Namespace
	pods := o.Client.API.CoreV1().Pods(ns)
	sel := metav1.ListOptions{LabelSelector: restoreIDLabel + "=" + strings.ToLower(o.runID)}
	l, err := pods.List(ctx, sel)
	if err != nil {
		return fmt.Errorf("find the staging pod: %w", err)
	}
	for _, p := range l.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		if err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete staging pod %s: %w", p.Name, err)
		}
	}
	if !wait {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, o.wait())
	defer cancel()
	if err := Poll(wctx, o.Client.every(300*time.Millisecond), "the staging pod to be gone", func(ctx context.Context) (bool, error) {
		l, err := pods.List(ctx, sel)
		return err == nil && len(l.Items) == 0, err
	}); err != nil {
		return err
	}
	o.runID, o.staging = "", ""
	return nil
}

// Undo implements restore.Rollout: it removes the staged files (through
// the staging pod, when it still runs) unless they were committed, deletes
// the staging pod, and gives the workload its replicas back, or the
// running Redis its saves, unless the files were swapped in under it.
func (o *Offline) Undo(ctx context.Context) error {
	var errs []error
	if o.staging != "" && !o.committed {
		if err := o.discard(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := o.deleteRestorePod(ctx, true); err != nil {
		errs = append(errs, err)
	}
	switch {
	case o.scaled:
		if err := o.Client.Scale(ctx, o.Workload, o.Workload.Replicas); err != nil {
			return errors.Join(append(errs, fmt.Errorf("%w: scale it back to %d by hand", err, o.Workload.Replicas))...)
		}
		o.scaled = false
		if err := o.Client.Annotate(ctx, o.Workload, ""); err != nil {
			errs = append(errs, err)
		}
		o.savesOff = false // the new pod starts with its own configuration
	case o.restarting && o.committed:
		// The files are swapped in under a Redis with its saves off:
		// giving them back would write the old data over the installed
		// files, so finish instead, as Start would have.
		if err := o.Restart.Redis.ShutdownNoSave(ctx); err != nil {
			errs = append(errs, fmt.Errorf("the restored data is installed but Redis in pod %s/%s still runs on the old data with saves off: delete the pod (it starts on the restored data), or move the .pre-restore files back first to keep the old data: %w", o.Pod.Namespace, o.Pod.Name, err))
		} else {
			o.restarting = false
		}
	case o.restarting:
		if err := o.Restart.Undo(ctx); err != nil {
			errs = append(errs, err)
		} else {
			o.restarting = false
		}
	case o.savesOff:
		if err := o.Redis.ConfigSet(ctx, "save", o.oldSave); err != nil {
			errs = append(errs, fmt.Errorf("give back save points %q: %w", o.oldSave, err))
		} else {
			o.savesOff = false
		}
	}
	return errors.Join(errs...)
}

// discard removes the staged files through the staging pod or, when it is
// gone (killed), through the still running Redis container. Left behind,
// they are harmless: Redis never loads them and the next restore replaces
// them; the error says so.
func (o *Offline) discard(ctx context.Context) error {
	_, err := o.receive(ctx, "discard", nil)
	if err == nil {
		return nil
	}
	staged := restore.Staged(o.in)
	if o.Container != "" && !o.scaled {
		cmd := append([]string{"rm", "-rf", "--"}, staged...)
		t := ExecTarget{Namespace: o.Pod.Namespace, Pod: o.Pod.Name, Container: o.Container, AllowSPDY: o.AllowSPDY}
		if o.Client.Exec(ctx, t, cmd, nil, io.Discard, io.Discard) == nil {
			return nil
		}
	}
	return fmt.Errorf("remove the staged %s (Redis never loads it and the next restore replaces it; or delete it by hand): %w", strings.Join(staged, ", "), err)
}
