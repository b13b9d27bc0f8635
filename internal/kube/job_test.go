package kube

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/kubeapi/kubeapitest"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// daemonPod is a daemon's pod as deploy/examples/daemon makes it, with a
// sidecar and a volume the rdbak container does not mount.
func daemonPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "rdbak-daemon-0", Namespace: "rdbak"},
		Spec: corev1.PodSpec{
			ServiceAccountName: "rdbak",
			SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)},
			Containers: []corev1.Container{
				{Name: "proxy", Image: "proxy:1"},
				{
					Name: "rdbak", Image: "rdbak.local/rdbak:dev", Args: []string{"daemon", "--config", "/etc/rdbak/rdbak.yaml"},
					Env:          []corev1.EnvVar{{Name: "KUBERNETES_SERVICE_HOST", Value: "10.0.0.1"}},
					EnvFrom:      []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "rdbak-storage"}}}},
					VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/rdbak"}, {Name: "tmp", MountPath: "/tmp"}},
					Resources:    corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}},
				},
			},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "rdbak-config"}}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "proxy-certs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
}

// fakeWithGenerateName is a fake clientset that names objects created with
// generateName, as the API server does.
func fakeWithGenerateName(objs ...runtime.Object) *fake.Clientset {
	cs := fake.NewClientset(objs...)
	var n atomic.Int32
	cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		job := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		if job.Name == "" {
			job.Name = fmt.Sprintf("%s%05d", job.GenerateName, n.Add(1))
		}
		return false, nil, nil
	})
	return cs
}

func TestJobFromDaemonPod(t *testing.T) {
	cs := fakeWithGenerateName(daemonPod())
	limits := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}
	jobs, err := NewJobs(t.Context(), kubeapitest.Wrap(cs), "rdbak", "rdbak-daemon-0", JobOptions{
		ServiceAccountName: "rdbak-backup", Resources: corev1.ResourceRequirements{Limits: limits},
		TTLAfterFinished: 600, BackoffLimit: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"now", "--config", "/etc/rdbak/rdbak.yaml", "--target", "cache"}
	name, err := jobs.Start(t.Context(), "cache", args, 32*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "rdbak-cache-") {
		t.Errorf("Job name %q, want rdbak-cache-...", name)
	}
	job, err := cs.BatchV1().Jobs("rdbak").Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := job.Spec.Template.Spec
	c := spec.Containers[0]
	var vols []string
	for _, v := range spec.Volumes {
		vols = append(vols, v.Name)
	}
	for _, check := range []struct {
		what      string
		got, want any
	}{
		{"containers", len(spec.Containers), 1},
		{"image", c.Image, "rdbak.local/rdbak:dev"},
		{"args", strings.Join(c.Args, " "), strings.Join(args, " ")},
		{"env", c.Env[0].Value, "10.0.0.1"},
		{"envFrom", c.EnvFrom[0].SecretRef.Name, "rdbak-storage"},
		{"volumes", strings.Join(vols, ","), "config,tmp"},
		{"mounts", len(c.VolumeMounts), 2},
		{"memory limit", c.Resources.Limits.Memory().String(), "128Mi"},
		{"serviceAccountName", spec.ServiceAccountName, "rdbak-backup"},
		{"pod securityContext", spec.SecurityContext != nil && *spec.SecurityContext.RunAsNonRoot, true},
		{"restartPolicy", spec.RestartPolicy, corev1.RestartPolicyNever},
		{"backoffLimit", *job.Spec.BackoffLimit, int32(1)},
		{"ttl", *job.Spec.TTLSecondsAfterFinished, int32(600)},
		{"activeDeadlineSeconds", *job.Spec.ActiveDeadlineSeconds, int64(32 * 60)},
		{"target label", job.Labels[JobTargetLabel], "cache"},
		{"pod target label", job.Spec.Template.Labels[JobTargetLabel], "cache"},
		{"termination message", c.TerminationMessagePolicy, corev1.TerminationMessageFallbackToLogsOnError},
	} {
		if fmt.Sprint(check.got) != fmt.Sprint(check.want) {
			t.Errorf("Job %s = %v, want %v", check.what, check.got, check.want)
		}
	}
	if _, err := NewJobs(t.Context(), kubeapitest.Wrap(cs), "rdbak", "gone", JobOptions{}); err == nil || !strings.Contains(err.Error(), "pods get") {
		t.Errorf("NewJobs without its pod: %v, want an error naming the permission", err)
	}
}

// setJob sets the condition typ on Job name.
func setJob(t *testing.T, cs *fake.Clientset, name string, typ batchv1.JobConditionType, reason string) {
	t.Helper()
	job, err := cs.BatchV1().Jobs("rdbak").Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job.Status.Conditions = append(job.Status.Conditions, batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: "Job has reached the specified backoff limit"})
	if _, err := cs.BatchV1().Jobs("rdbak").UpdateStatus(t.Context(), job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestJobWaitAndRunning(t *testing.T) {
	cs := fakeWithGenerateName(daemonPod())
	jobs, err := NewJobs(t.Context(), kubeapitest.Wrap(cs), "rdbak", "rdbak-daemon-0", JobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := jobs.Start(t.Context(), "a", nil, 0)
	b, _ := jobs.Start(t.Context(), "b", nil, 0)
	running, err := jobs.Running(t.Context())
	if err != nil || len(running) != 2 || running[0].Target == running[1].Target {
		t.Fatalf("Running = %+v, %v; want the Jobs of a and b", running, err)
	}

	// a fails: its pod's termination message (the log's tail) is reported.
	_, err = cs.CoreV1().Pods("rdbak").Create(t.Context(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: a + "-x", Namespace: "rdbak", Labels: map[string]string{"job-name": a}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "rdbak", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: "line 1\nbackup failed: connection refused\n"}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan JobOutcome, 1)
	go func() {
		out, err := jobs.Wait(t.Context(), a)
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	setJob(t, cs, a, batchv1.JobFailed, "BackoffLimitExceeded")
	out := <-done
	if out.Succeeded || out.Reason != "BackoffLimitExceeded" || !strings.Contains(out.Message, "connection refused") || out.ExitCode != 1 || out.Killed() {
		t.Errorf("Wait(failed Job) = %+v, want BackoffLimitExceeded with the pod's message", out)
	}

	setJob(t, cs, b, batchv1.JobComplete, "")
	if out, err := jobs.Wait(t.Context(), b); err != nil || !out.Succeeded {
		t.Errorf("Wait(complete Job) = %+v, %v; want success", out, err)
	}
	if running, _ := jobs.Running(t.Context()); len(running) != 0 {
		t.Errorf("Running after both finished = %+v, want none", running)
	}
	if err := cs.BatchV1().Jobs("rdbak").Delete(t.Context(), a, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Wait(t.Context(), a); err == nil || !strings.Contains(err.Error(), "deleted before it finished") {
		t.Errorf("Wait(deleted Job) = %v, want ErrJobGone", err)
	}
}
