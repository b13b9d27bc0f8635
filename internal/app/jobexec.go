package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/storage"
)

// jobExecutor runs the daemon's scheduled backups as Kubernetes Jobs
// (daemon.executor: job): each Job runs rdbak now --target NAME --no-prune
// with the daemon's image, config file and environment, so that a fleet
// spreads over the cluster's nodes; the daemon waits for the Job, reads the
// backup it committed, records the metrics and applies retention.
//
// daemon.concurrency counts the Jobs running in the namespace, also those a
// previous daemon started: a run waits until fewer are running. A run whose
// target still has a Job running (left by a daemon that restarted) waits
// for that Job instead of starting another. A Job that dies leaves no
// manifest (rdbak now writes it last), so nothing is recorded but the
// failure; orphan collection removes its data later.
type jobExecutor struct {
	a          *App
	configPath string
	// poll is how often a run waiting for a free slot counts the running
	// Jobs again.
	poll time.Duration
	// newJobs builds the Jobs client for cfg; default from the daemon's
	// own pod, through a.Kube.
	newJobs func(ctx context.Context, cfg *config.File) (*kube.Jobs, error)

	mu   sync.Mutex
	jobs *kube.Jobs
	key  string // daemon.job the jobs were built with
}

func newJobExecutor(a *App, configPath string) *jobExecutor {
	e := &jobExecutor{a: a, configPath: configPath, poll: 2 * time.Second}
	e.newJobs = e.fromOwnPod
	return e
}

// fromOwnPod builds the Jobs client from the daemon's own pod: POD_NAME
// (else the host name, which is the pod's) in POD_NAMESPACE (else the
// namespace of the ServiceAccount or kubeconfig).
func (e *jobExecutor) fromOwnPod(ctx context.Context, cfg *config.File) (*kube.Jobs, error) {
	if e.a.Kube == nil {
		return nil, errors.New("daemon.executor is job, but this build cannot reach Kubernetes")
	}
	c, err := e.a.Kube.Client()
	if err != nil {
		return nil, err
	}
	name := os.Getenv("POD_NAME")
	if name == "" {
		if name, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("find the daemon's own pod: %w", err)
		}
	}
	ns := os.Getenv("POD_NAMESPACE")
	if ns == "" {
		if ns, err = e.a.Kube.Namespace(); err != nil {
			return nil, err
		}
	}
	o, err := jobOptions(cfg.Daemon.Job)
	if err != nil {
		return nil, err
	}
	return kube.NewJobs(ctx, c.API, ns, name, o)
}

// jobOptions turns daemon.job into the adapter's typed options.
func jobOptions(j config.DaemonJob) (kube.JobOptions, error) {
	o := kube.JobOptions{
		Namespace: j.Namespace, Image: j.Image, ServiceAccountName: j.ServiceAccountName,
		TTLAfterFinished: int32(j.TTLSecondsAfterFinished), BackoffLimit: int32(j.BackoffLimit),
	}
	for _, l := range []struct {
		path string
		in   config.ResourceList
		out  *corev1.ResourceList
	}{{"requests", j.Resources.Requests, &o.Resources.Requests}, {"limits", j.Resources.Limits, &o.Resources.Limits}} {
		for name, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: l.in.CPU, corev1.ResourceMemory: l.in.Memory, corev1.ResourceEphemeralStorage: l.in.EphemeralStorage} {
			if q == "" {
				continue
			}
			v, err := resource.ParseQuantity(q)
			if err != nil { // validated by config.Parse
				return o, fmt.Errorf("daemon.job.resources.%s.%s: %w", l.path, name, err)
			}
			if *l.out == nil {
				*l.out = corev1.ResourceList{}
			}
			(*l.out)[name] = v
		}
	}
	return o, nil
}

// client returns the Jobs client for cfg, built once per daemon.job.
func (e *jobExecutor) client(ctx context.Context, cfg *config.File) (*kube.Jobs, error) {
	key := fmt.Sprintf("%+v", cfg.Daemon.Job)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.jobs != nil && e.key == key {
		return e.jobs, nil
	}
	j, err := e.newJobs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	e.jobs, e.key = j, key
	return j, nil
}

// backup is the daemon's ScheduledFunc with executor job.
func (e *jobExecutor) backup(ctx context.Context, cfg *config.File, t *config.Target, repo *storage.Repo) (*backup.Result, error) {
	log := e.a.Log.With("target", t.Name)
	res, job, killed, err := e.run(ctx, cfg, t, repo)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("backup failed", "job", job, "error", err.Error())
			// The Job's rdbak now notifies of its own failures and
			// records their Events; the daemon does what it could not:
			// for a killed Job, or none at all.
			if killed || job == "" {
				e.a.notifier().Notify(ctx, log, t, EventBackupFailed, "", err)
				e.a.recordTargetEvent(ctx, log, t, kube.ReasonBackupFailed, fmt.Sprintf("backup of %s failed: %v", t.Name, err), true)
			}
		}
		return nil, err
	}
	m := res.Manifest
	log.Info("backup stored", "job", job, "backup_id", m.ID, "raw_bytes", m.Data.RawSize, "stored_bytes", m.Data.StoredSize)
	return res, nil
}

// run runs t's backup Job and returns the backup it committed, the Job's
// name and whether it was killed before it could report its own failure.
func (e *jobExecutor) run(ctx context.Context, cfg *config.File, t *config.Target, repo *storage.Repo) (*backup.Result, string, bool, error) {
	res, name, err := e.runJob(ctx, cfg, t, repo)
	var f *jobFailure
	killed := errors.As(err, &f) && f.killed
	return res, name, killed, err
}

// jobFailure is a Job that finished without success.
type jobFailure struct {
	msg    string
	killed bool
}

func (f *jobFailure) Error() string { return f.msg }

func (e *jobExecutor) runJob(ctx context.Context, cfg *config.File, t *config.Target, repo *storage.Repo) (*backup.Result, string, error) {
	jobs, err := e.client(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	// The newest backup before: the Job's must be another.
	before, err := repo.Latest(ctx, t.Name)
	if err != nil {
		return nil, "", err
	}
	name, err := e.start(ctx, cfg, jobs, t)
	if err != nil {
		return nil, name, err
	}
	out, err := jobs.Wait(ctx, name)
	if err != nil {
		return nil, name, err
	}
	if !out.Succeeded {
		return nil, name, &jobFailure{killed: out.Killed(), msg: fmt.Sprintf("backup Job %s/%s failed: %s: %s (kubectl -n %s logs job/%s)", jobs.Namespace(), name, out.Reason, out.Message, jobs.Namespace(), name)}
	}
	// rdbak now committed the backup before it exited 0: its manifest is
	// the target's newest, not the one newest before, and made after the
	// Job was (the creation timestamp has whole seconds).
	m, err := repo.Latest(ctx, t.Name)
	if err != nil {
		return nil, name, fmt.Errorf("read the backup of Job %s: %w", name, err)
	}
	if m == nil || (before != nil && m.ID == before.ID) || m.Created.Before(out.Created.Add(-time.Second)) {
		return nil, name, fmt.Errorf("backup Job %s/%s succeeded, but %s holds no backup of %s made since it started: does the Job's config name the same storage?", jobs.Namespace(), name, repo, t.Name)
	}
	return &backup.Result{Manifest: m, Stream: m.Finished.Sub(m.Created), CowBytes: -1}, name, nil
}

// start returns the Job to wait for: one of t still running (started by a
// daemon before a restart), or a new one once fewer than
// daemon.concurrency backup Jobs are running.
func (e *jobExecutor) start(ctx context.Context, cfg *config.File, jobs *kube.Jobs, t *config.Target) (string, error) {
	for {
		running, err := jobs.Running(ctx)
		if err != nil {
			return "", err
		}
		for _, r := range running {
			if r.Target == t.Name {
				e.a.Log.Info("waiting for the backup Job already running", "target", t.Name, "job", r.Name)
				return r.Name, nil
			}
		}
		if len(running) < max(cfg.Daemon.Concurrency, 1) {
			break
		}
		select {
		case <-ctx.Done():
			return "", context.Cause(ctx)
		case <-time.After(e.poll):
		}
	}
	args := []string{"now", "--config", e.configPath, "--target", t.Name, "--no-prune", "--log-format", "json"}
	var deadline time.Duration
	if t.Timeout > 0 {
		// rdbak now bounds itself by the timeout; the deadline is for a
		// pod that never gets that far (an image that cannot be pulled).
		deadline = t.Timeout + 2*time.Minute
	}
	name, err := jobs.Start(ctx, t.Name, args, deadline)
	if err == nil {
		e.a.Log.Debug("backup Job started", "target", t.Name, "job", name)
	}
	return name, err
}
