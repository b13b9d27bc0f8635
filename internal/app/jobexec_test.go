package app

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/kubeapi/kubeapitest"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/storage"
)

// jobHarness is a daemon with executor job on a fake clientset: the test
// plays the Job controller and the Jobs' rdbak now.
type jobHarness struct {
	cs    *fake.Clientset
	e     *jobExecutor
	cfg   *config.File
	repo  *storage.Repo
	lists atomic.Int32 // Job lists so far
}

func newJobHarness(t *testing.T, concurrency int) *jobHarness {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "rdbak-daemon-0", Namespace: "rdbak"},
		Spec:       corev1.PodSpec{ServiceAccountName: "rdbak", Containers: []corev1.Container{{Name: "rdbak", Image: "rdbak:dev"}}},
	}
	h := &jobHarness{cs: fake.NewClientset(pod), repo: openRepo(t)}
	var n atomic.Int32
	h.cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		job := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		job.Name = fmt.Sprintf("%s%05d", job.GenerateName, n.Add(1))
		return false, nil, nil
	})
	h.cs.PrependReactor("list", "jobs", func(k8stesting.Action) (bool, runtime.Object, error) {
		h.lists.Add(1)
		return false, nil, nil
	})
	h.cfg = &config.File{Daemon: config.Daemon{Concurrency: concurrency, Executor: config.ExecutorJob}}
	h.e = newJobExecutor(&App{Log: quiet()}, "/etc/rdbak/rdbak.yaml")
	h.e.poll = time.Millisecond
	h.e.newJobs = func(ctx context.Context, cfg *config.File) (*kube.Jobs, error) {
		o, err := jobOptions(cfg.Daemon.Job)
		if err != nil {
			return nil, err
		}
		return kube.NewJobs(ctx, kubeapitest.Wrap(h.cs), "rdbak", "rdbak-daemon-0", o)
	}
	return h
}

type backupOutcome struct {
	res *backup.Result
	err error
}

// backup runs one scheduled backup of target in the background.
func (h *jobHarness) backup(t *testing.T, target string) <-chan backupOutcome {
	done := make(chan backupOutcome, 1)
	go func() {
		res, err := h.e.backup(t.Context(), h.cfg, &config.Target{Name: target, Timeout: time.Minute}, h.repo)
		done <- backupOutcome{res, err}
	}()
	return done
}

// jobsOf returns the Jobs of target.
func (h *jobHarness) jobsOf(t *testing.T, target string) []batchv1.Job {
	t.Helper()
	l, err := h.cs.BatchV1().Jobs("rdbak").List(t.Context(), metav1.ListOptions{LabelSelector: kube.JobTargetLabel + "=" + target})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// waitJob returns target's n-th Job once it exists.
func (h *jobHarness) waitJob(t *testing.T, target string, n int) batchv1.Job {
	t.Helper()
	for {
		if jobs := h.jobsOf(t, target); len(jobs) >= n {
			return jobs[n-1]
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("no Job %d of %s", n, target)
		case <-time.After(time.Millisecond):
		}
	}
}

// finish gives Job name the condition typ.
func (h *jobHarness) finish(t *testing.T, name string, typ batchv1.JobConditionType) {
	t.Helper()
	job, err := h.cs.BatchV1().Jobs("rdbak").Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	job.Status.Conditions = []batchv1.JobCondition{{Type: typ, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"}}
	if _, err := h.cs.BatchV1().Jobs("rdbak").UpdateStatus(t.Context(), job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// runningJob makes a Job of target as a daemon before a restart left it.
func (h *jobHarness) runningJob(t *testing.T, target string) string {
	t.Helper()
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{GenerateName: "rdbak-" + target + "-", Namespace: "rdbak",
		Labels: map[string]string{"app.kubernetes.io/managed-by": "rdbak-daemon", kube.JobTargetLabel: target}}}
	job, err := h.cs.BatchV1().Jobs("rdbak").Create(t.Context(), job, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return job.Name
}

// commit stores a backup of target as a Job's rdbak now does.
func commit(t *testing.T, repo *storage.Repo, target string) *storage.Manifest {
	t.Helper()
	now := time.Now().UTC()
	m := &storage.Manifest{Format: storage.ManifestFormat, ID: storage.NewID(now), Target: target, Created: now, Finished: now.Add(time.Second),
		Data: storage.Data{Name: storage.DataName("zst"), RawSize: 4}}
	up, err := repo.Create(t.Context(), target, m.ID, m.Data.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(up, "data"); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := repo.Commit(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestJobExecutorSuccessAndFailure(t *testing.T) {
	h := newJobHarness(t, 2)
	done := h.backup(t, "cache")
	job := h.waitJob(t, "cache", 1)
	args := strings.Join(job.Spec.Template.Spec.Containers[0].Args, " ")
	if want := "now --config /etc/rdbak/rdbak.yaml --target cache --no-prune"; !strings.HasPrefix(args, want) {
		t.Errorf("the Job runs %q, want %q...", args, want)
	}
	m := commit(t, h.repo, "cache")
	h.finish(t, job.Name, batchv1.JobComplete)
	out := <-done
	if out.err != nil || out.res == nil || out.res.Manifest.ID != m.ID {
		t.Fatalf("backup by a Job = %+v, %v; want the backup %s it committed", out.res, out.err, m.ID)
	}

	// A Job that fails (its pod killed) committed nothing: the run fails.
	done = h.backup(t, "cache")
	job = h.waitJob(t, "cache", 2)
	h.finish(t, job.Name, batchv1.JobFailed)
	out = <-done
	if out.err == nil || out.res != nil || !strings.Contains(out.err.Error(), "BackoffLimitExceeded") {
		t.Errorf("backup by a failed Job = %+v, %v; want an error with the Job's reason", out.res, out.err)
	}

	// A Job that succeeds without a new backup (another storage) fails
	// the run rather than reporting the old one.
	done = h.backup(t, "cache")
	job = h.waitJob(t, "cache", 3)
	h.finish(t, job.Name, batchv1.JobComplete)
	if out = <-done; out.err == nil {
		t.Errorf("a Job that stored nothing new counted as the backup %s", out.res.Manifest.ID)
	}
}

// TestJobExecutorCountsRunningJobs: daemon.concurrency counts the Jobs
// running, also one a previous daemon left; a target with a Job running
// waits for it instead of starting a second one.
func TestJobExecutorCountsRunningJobs(t *testing.T) {
	h := newJobHarness(t, 1)
	left := h.runningJob(t, "sessions")
	done := h.backup(t, "cache")
	for h.lists.Load() < 5 {
		time.Sleep(time.Millisecond)
	}
	if jobs := h.jobsOf(t, "cache"); len(jobs) != 0 {
		t.Fatalf("a Job of cache started while the Job %s ran with daemon.concurrency 1", left)
	}
	adopted := h.backup(t, "sessions")
	for h.lists.Load() < 10 {
		time.Sleep(time.Millisecond)
	}
	if jobs := h.jobsOf(t, "sessions"); len(jobs) != 1 {
		t.Fatalf("sessions has %d Jobs, want only the one left running", len(jobs))
	}
	commit(t, h.repo, "sessions")
	h.finish(t, left, batchv1.JobComplete)
	if out := <-adopted; out.err != nil {
		t.Errorf("waiting for the Job left running: %v", out.err)
	}
	job := h.waitJob(t, "cache", 1)
	commit(t, h.repo, "cache")
	h.finish(t, job.Name, batchv1.JobComplete)
	if out := <-done; out.err != nil {
		t.Errorf("cache's backup after the slot freed: %v", out.err)
	}
	if n := len(h.jobsOf(t, "sessions")) + len(h.jobsOf(t, "cache")); n != 2 {
		t.Errorf("%d Jobs in all, want 2", n)
	}
}
