//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/storage"
)

// jobConfig runs two targets (the same Redis under two names) as backup
// Jobs, one at a time.
func jobConfig(store, targetNS string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `storage: %q
defaults:
  schedule: "@every 15s"
  jitter: 0s
  timeout: 5m
  retention: {keepLast: 20}
daemon:
  listen: ":9090"
  concurrency: 1
  executor: job
  job:
    resources:
      limits: {memory: 256Mi}
    ttlSecondsAfterFinished: 600
targets:
`, store)
	for _, name := range []string{"redis", "redis-b"} {
		fmt.Fprintf(&b, `  - name: %s
    kubernetes:
      namespace: %s
      statefulset: redis-master
      passwordSecret: {name: redis, key: REDIS_PASSWORD}
      access: pod-ip
`, name, targetNS)
	}
	return b.String()
}

// jobWatch follows the daemon's backup Jobs and remembers the most that
// were unfinished at once.
type jobWatch struct {
	mu      sync.Mutex
	jobs    map[string]*batchv1.Job
	maxOpen int
}

func watchJobs(t *testing.T, ns *testcluster.Namespace) *jobWatch {
	t.Helper()
	w, err := ns.Clientset.BatchV1().Jobs(ns.Name).Watch(t.Context(), metav1.ListOptions{LabelSelector: kube.JobSelector})
	if err != nil {
		t.Fatalf("watch Jobs: %v", err)
	}
	t.Cleanup(w.Stop)
	jw := &jobWatch{jobs: map[string]*batchv1.Job{}}
	go func() {
		for ev := range w.ResultChan() {
			job, ok := ev.Object.(*batchv1.Job)
			if !ok {
				continue
			}
			jw.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(jw.jobs, job.Name)
			} else {
				jw.jobs[job.Name] = job
			}
			open := 0
			for _, j := range jw.jobs {
				if jobDone(j) == "" {
					open++
				}
			}
			jw.maxOpen = max(jw.maxOpen, open)
			jw.mu.Unlock()
		}
	}()
	return jw
}

// jobDone returns Complete or Failed once job has finished, else "".
func jobDone(job *batchv1.Job) batchv1.JobConditionType {
	for _, c := range job.Status.Conditions {
		if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) {
			return c.Type
		}
	}
	return ""
}

// finished returns the finished Jobs of target with condition typ.
func (jw *jobWatch) finished(target string, typ batchv1.JobConditionType) []*batchv1.Job {
	jw.mu.Lock()
	defer jw.mu.Unlock()
	var out []*batchv1.Job
	for _, j := range jw.jobs {
		if j.Labels[kube.JobTargetLabel] == target && jobDone(j) == typ {
			out = append(out, j)
		}
	}
	return out
}

// manifests returns the ids of target's committed backups in the bucket.
func (m *nodeMinIO) manifests(t *testing.T, target string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, k := range m.objects(t) {
		if rest, ok := strings.CutPrefix(k, target+"/"); ok && strings.HasSuffix(rest, "/manifest.json") {
			ids[strings.TrimSuffix(rest, "/manifest.json")] = true
		}
	}
	return ids
}

// TestDaemonJobExecutor deploys deploy/examples/daemon (with its Role
// rdbak-jobs) with daemon.executor: job, concurrency 1 and two targets:
// each backup runs as a Job of the daemon's image and config, is committed
// to MinIO and counted in the daemon's metrics; never two Jobs run at once;
// a Job whose pod is killed mid-backup is recorded as a failure (metric
// and a BackupFailed Event on the target's workload) and leaves no
// manifest.
func TestDaemonJobExecutor(t *testing.T) {
	image := restoreImage(t)
	target := testcluster.New(t)
	home := target.NewNamespace(t)
	store := startNodeMinIO(t, target.Cluster)
	src := deployRedis(t, target)
	jw := watchJobs(t, home)

	api := apiServerEnv(t, home.Cluster, "Deployment", "/spec/template/spec")
	one := `- target: {kind: Deployment, name: rdbak-daemon}
  patch: '[{"op": "replace", "path": "/spec/replicas", "value": 1}]'
`
	home.Apply(t, kustomizeOverlay(t, home.Cluster, []string{"examples/daemon"}, home.Name, target.Name, image, jobConfig(store.url, target.Name), api, one))
	home.WaitDeployment(t, "rdbak-daemon")

	// Success: a Job per target, each committing a backup.
	home.WaitFor(t, "a completed backup Job of each target", func(context.Context) (bool, error) {
		return len(jw.finished("redis", batchv1.JobComplete)) > 0 && len(jw.finished("redis-b", batchv1.JobComplete)) > 0, nil
	})
	for _, name := range []string{"redis", "redis-b"} {
		if len(store.manifests(t, name)) == 0 {
			t.Errorf("a Job of %s completed, but MinIO holds no backup of it", name)
		}
	}
	rdbak(t, home, store.env, "verify", "latest", "--storage", store.url, "--target", "redis").ok(t)
	pods := daemonPods(t, home)
	if len(pods) != 1 {
		t.Fatalf("%d daemon pods, want 1", len(pods))
	}
	metricsAddr := home.PortForward(t, pods[0].Name, 9090)
	home.WaitFor(t, "the daemon to count a successful backup of redis", func(context.Context) (bool, error) {
		return scrape(t, metricsAddr)[`rdbak_backup_total{result="success",target="redis"}`] >= 1, nil
	})

	// Killed: slow the snapshot down (rdb-key-save-delay, in µs per key),
	// wait for a Job of redis to have Redis saving, and delete its pod.
	c := src.Client(t)
	if err := c.ConfigSet(t.Context(), "rdb-key-save-delay", "50000").Err(); err != nil {
		t.Fatalf("CONFIG SET rdb-key-save-delay: %v", err)
	}
	t.Cleanup(func() { _ = c.ConfigSet(context.Background(), "rdb-key-save-delay", "0").Err() })
	failuresBefore := scrape(t, metricsAddr)[`rdbak_backup_total{result="failure",target="redis"}`]
	before := store.manifests(t, "redis")
	var victim *corev1.Pod
	home.WaitFor(t, "a backup Job of redis while Redis saves", func(ctx context.Context) (bool, error) {
		info, err := c.Info(ctx, "persistence").Result()
		if err != nil || !strings.Contains(info, "rdb_bgsave_in_progress:1") {
			return false, nil
		}
		l, err := home.Clientset.CoreV1().Pods(home.Name).List(ctx, metav1.ListOptions{LabelSelector: kube.JobTargetLabel + "=redis"})
		if err != nil {
			return false, err
		}
		for i := range l.Items {
			if l.Items[i].Status.Phase == corev1.PodRunning {
				victim = &l.Items[i]
				return true, nil
			}
		}
		return false, nil
	})
	job := victim.Labels["job-name"]
	t.Logf("killing pod %s of Job %s", victim.Name, job)
	if err := home.Clientset.CoreV1().Pods(home.Name).Delete(t.Context(), victim.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	home.WaitFor(t, "Job "+job+" to fail", func(context.Context) (bool, error) {
		for _, j := range jw.finished("redis", batchv1.JobFailed) {
			if j.Name == job {
				return true, nil
			}
		}
		return false, nil
	})
	home.WaitFor(t, "the daemon to count the failure", func(context.Context) (bool, error) {
		return scrape(t, metricsAddr)[`rdbak_backup_total{result="failure",target="redis"}`] > failuresBefore, nil
	})
	// Its rdbak could not say so: the daemon records the Event.
	target.WaitFor(t, "a BackupFailed Event naming Job "+job, func(ctx context.Context) (bool, error) {
		l, err := target.Clientset.CoreV1().Events(target.Name).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range l.Items {
			if e.Reason == kube.ReasonBackupFailed && strings.Contains(e.Message, job) {
				return true, nil
			}
		}
		return false, nil
	})
	if err := c.ConfigSet(t.Context(), "rdb-key-save-delay", "0").Err(); err != nil {
		t.Fatal(err)
	}
	var killed *batchv1.Job
	for _, j := range jw.finished("redis", batchv1.JobFailed) {
		if j.Name == job {
			killed = j
		}
	}
	for id := range store.manifests(t, "redis") {
		created, ok := storage.IDTime(id)
		if !before[id] && ok && !created.Before(killed.CreationTimestamp.Add(-time.Second)) && created.Before(jobEnd(killed)) {
			t.Errorf("the killed Job %s left the manifest of backup %s", job, id)
		}
	}

	// Concurrency: with daemon.concurrency 1, never two Jobs unfinished.
	jw.mu.Lock()
	maxOpen := jw.maxOpen
	jw.mu.Unlock()
	if maxOpen != 1 {
		t.Errorf("at most %d backup Jobs ran at once, want 1 (daemon.concurrency)", maxOpen)
	}
}

// jobEnd is when job's Failed or Complete condition was set.
func jobEnd(job *batchv1.Job) time.Time {
	for _, c := range job.Status.Conditions {
		if c.Type == jobDone(job) {
			return c.LastTransitionTime.Time
		}
	}
	return time.Now()
}
