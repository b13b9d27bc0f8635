package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rdbak/rdbak/internal/kubeapi"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// Labels of the daemon's backup Jobs: the daemon finds the Jobs it (or a
// previous daemon) started by JobSelector, and each Job's target by
// JobTargetLabel.
const (
	JobTargetLabel = "rdbak.io/target"
	jobManagedBy   = "rdbak-daemon"
	// JobSelector selects the daemon's backup Jobs.
	JobSelector = "app.kubernetes.io/managed-by=" + jobManagedBy
)

// JobOptions shape the backup Jobs. Zero values take the template pod's.
type JobOptions struct {
	// Namespace the Jobs run in.
	Namespace          string
	Image              string
	ServiceAccountName string
	Resources          corev1.ResourceRequirements
	TTLAfterFinished   int32
	BackoffLimit       int32
}

// Jobs runs commands of rdbak as Kubernetes Jobs built from a template pod
// (the daemon's own): the same image, environment and mounted volumes, so a
// Job reads the same config and credentials the daemon does.
type Jobs struct {
	cs        kubeapi.API
	o         JobOptions
	pod       corev1.PodSpec // the template, reduced to what a Job takes
	container corev1.Container
}

// NewJobs reads the template pod podNS/podName and returns Jobs that run in
// o.Namespace (default podNS). The pod's container named "rdbak", else its
// first, is the template of the Jobs' container.
func NewJobs(ctx context.Context, cs kubeapi.API, podNS, podName string, o JobOptions) (*Jobs, error) {
	pod, err := cs.CoreV1().Pods(podNS).Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read the daemon's own pod %s/%s, the template of its backup Jobs (daemon.executor: job needs pods get in its namespace; run the daemon in a pod): %w", podNS, podName, err)
	}
	if len(pod.Spec.Containers) == 0 {
		return nil, fmt.Errorf("pod %s/%s has no containers", podNS, podName)
	}
	c := pod.Spec.Containers[0]
	for _, x := range pod.Spec.Containers {
		if x.Name == "rdbak" {
			c = x
		}
	}
	if o.Namespace == "" {
		o.Namespace = podNS
	}
	j := &Jobs{cs: cs, o: o}
	j.container = corev1.Container{
		Name: "rdbak", Image: c.Image, ImagePullPolicy: c.ImagePullPolicy,
		Env: c.Env, EnvFrom: c.EnvFrom, VolumeMounts: c.VolumeMounts, SecurityContext: c.SecurityContext,
		Resources: c.Resources,
		// The tail of the log is the failure message Wait reports.
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	if o.Image != "" {
		j.container.Image = o.Image
	}
	if len(o.Resources.Requests) > 0 || len(o.Resources.Limits) > 0 {
		j.container.Resources = o.Resources
	}
	mounted := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounted[m.Name] = true
	}
	var vols []corev1.Volume
	for _, v := range pod.Spec.Volumes {
		if mounted[v.Name] {
			vols = append(vols, v)
		}
	}
	sa := pod.Spec.ServiceAccountName
	if o.ServiceAccountName != "" {
		sa = o.ServiceAccountName
	}
	j.pod = corev1.PodSpec{
		ServiceAccountName: sa, Volumes: vols, SecurityContext: pod.Spec.SecurityContext,
		ImagePullSecrets: pod.Spec.ImagePullSecrets, RestartPolicy: corev1.RestartPolicyNever,
	}
	return j, nil
}

// Namespace is where the Jobs run.
func (j *Jobs) Namespace() string { return j.o.Namespace }

// Start creates a Job for target that runs the template's container with
// args, bounded by deadline (0: none), and returns its name.
func (j *Jobs) Start(ctx context.Context, target string, args []string, deadline time.Duration) (string, error) {
	labels := map[string]string{
		"app.kubernetes.io/name": "rdbak", "app.kubernetes.io/component": "backup",
		"app.kubernetes.io/managed-by": jobManagedBy, JobTargetLabel: target,
	}
	c := j.container
	c.Args = args
	spec := *j.pod.DeepCopy()
	spec.Containers = []corev1.Container{c}
	ttl, backoff := j.o.TTLAfterFinished, j.o.BackoffLimit
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{GenerateName: jobNamePrefix(target), Namespace: j.o.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff, TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
	if deadline > 0 {
		s := int64(deadline.Seconds())
		job.Spec.ActiveDeadlineSeconds = &s
	}
	created, err := j.cs.BatchV1().Jobs(j.o.Namespace).Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create the backup Job of %s in namespace %s: %w", target, j.o.Namespace, err)
	}
	return created.Name, nil
}

// jobNamePrefix is rdbak-<target>-, cut so that the generated name (5
// more characters) stays a valid 63-character label value.
func jobNamePrefix(target string) string {
	p := "rdbak-" + strings.NewReplacer(".", "-", "_", "-").Replace(target)
	if len(p) > 56 {
		p = strings.TrimRight(p[:56], "-")
	}
	return p + "-"
}

// RunningJob is a backup Job that has not finished.
type RunningJob struct {
	Name, Target string
	Created      time.Time
}

// Running returns the backup Jobs in the namespace that have not finished,
// whoever started them, oldest first.
func (j *Jobs) Running(ctx context.Context) ([]RunningJob, error) {
	l, err := j.cs.BatchV1().Jobs(j.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: JobSelector})
	if err != nil {
		return nil, fmt.Errorf("list backup Jobs in namespace %s: %w", j.o.Namespace, err)
	}
	var out []RunningJob
	for _, job := range l.Items {
		if _, done := finished(&job); !done {
			out = append(out, RunningJob{Name: job.Name, Target: job.Labels[JobTargetLabel], Created: job.CreationTimestamp.Time})
		}
	}
	slices.SortFunc(out, func(a, b RunningJob) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// JobOutcome is how a Job ended.
type JobOutcome struct {
	Succeeded bool
	// Reason and Message are the Failed condition's (e.g.
	// BackoffLimitExceeded, DeadlineExceeded), followed by the
	// termination message of the Job's last failed pod: the tail of its
	// log.
	Reason, Message string
	// ExitCode is the rdbak container's in the newest failed pod; -1 when
	// it never ran or is unknown. 128 and above: killed by a signal.
	ExitCode int32
	Created  time.Time
}

// Killed reports whether the Job's rdbak never reported its own outcome:
// its pod was killed (a signal, the deadline) or never ran.
func (o JobOutcome) Killed() bool {
	return !o.Succeeded && (o.ExitCode < 0 || o.ExitCode >= 128 || o.Reason == "DeadlineExceeded")
}

// ErrJobGone means the Job was deleted before it finished.
var ErrJobGone = errors.New("backup Job deleted before it finished")

// Wait watches Job name until it finishes and returns how it ended. When
// ctx is done it returns ctx's error and leaves the Job running: a daemon
// that restarts counts it and waits for it again.
func (j *Jobs) Wait(ctx context.Context, name string) (JobOutcome, error) {
	api := j.cs.BatchV1().Jobs(j.o.Namespace)
	for {
		job, err := api.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return JobOutcome{}, fmt.Errorf("%w: %s/%s", ErrJobGone, j.o.Namespace, name)
		}
		if err != nil {
			return JobOutcome{}, fmt.Errorf("read backup Job %s/%s: %w", j.o.Namespace, name, err)
		}
		if out, done := finished(job); done {
			return j.describe(ctx, job, out), nil
		}
		w, err := api.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name, ResourceVersion: job.ResourceVersion})
		if err != nil {
			return JobOutcome{}, fmt.Errorf("watch backup Job %s/%s: %w", j.o.Namespace, name, err)
		}
		out, done, err := j.watch(ctx, w, name)
		w.Stop()
		if err != nil || done {
			return out, err
		}
		// The watch ended (the API server's timeout): read the Job again.
	}
}

// watch reads events until Job name finishes or w ends; a change between
// the Get and the start of the watch is caught by one more Get.
func (j *Jobs) watch(ctx context.Context, w watch.Interface, name string) (JobOutcome, bool, error) {
	if job, err := j.cs.BatchV1().Jobs(j.o.Namespace).Get(ctx, name, metav1.GetOptions{}); err == nil {
		if out, done := finished(job); done {
			return j.describe(ctx, job, out), true, nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return JobOutcome{}, false, context.Cause(ctx)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return JobOutcome{}, false, nil
			}
			job, isJob := ev.Object.(*batchv1.Job)
			if !isJob || job.Name != name {
				continue
			}
			if ev.Type == watch.Deleted {
				return JobOutcome{}, false, fmt.Errorf("%w: %s/%s", ErrJobGone, j.o.Namespace, name)
			}
			if out, done := finished(job); done {
				return j.describe(ctx, job, out), true, nil
			}
		}
	}
}

// finished reports whether job has its Complete or Failed condition.
func finished(job *batchv1.Job) (JobOutcome, bool) {
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return JobOutcome{Succeeded: true, Created: job.CreationTimestamp.Time}, true
		case batchv1.JobFailed:
			return JobOutcome{Reason: c.Reason, Message: c.Message, Created: job.CreationTimestamp.Time}, true
		}
	}
	return JobOutcome{}, false
}

// describe adds to a failed Job's outcome the termination message of its
// newest failed pod, best effort.
func (j *Jobs) describe(ctx context.Context, job *batchv1.Job, out JobOutcome) JobOutcome {
	if out.Succeeded {
		return out
	}
	out.ExitCode = -1
	pods, err := j.cs.CoreV1().Pods(j.o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job.Name})
	if err != nil {
		return out
	}
	var newest *corev1.Pod
	for i := range pods.Items {
		if p := &pods.Items[i]; newest == nil || p.CreationTimestamp.After(newest.CreationTimestamp.Time) {
			newest = p
		}
	}
	if newest == nil {
		return out
	}
	for _, cs := range newest.Status.ContainerStatuses {
		t := cs.State.Terminated
		if t == nil {
			continue
		}
		out.ExitCode = t.ExitCode
		if t.Message != "" {
			out.Message = strings.TrimSpace(out.Message + "; pod " + newest.Name + ": " + lastLines(t.Message, 5))
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
