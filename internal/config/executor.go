package config

import (
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Daemon executors (daemon.executor).
const (
	// ExecutorInProcess runs each scheduled backup inside the daemon.
	ExecutorInProcess = "in-process"
	// ExecutorJob runs each scheduled backup as a Kubernetes Job running
	// rdbak now --target NAME with the daemon's own image, config and
	// environment; the daemon only schedules, watches the Jobs, records
	// metrics and prunes.
	ExecutorJob = "job"
)

// DaemonJob shapes the Jobs of daemon.executor: job. What a Job does not
// take from here it copies from the daemon's own pod: the container's
// image, environment, envFrom and the volumes it mounts (the config
// ConfigMap, credential Secrets), and both security contexts.
type DaemonJob struct {
	// Namespace the Jobs run in; default the daemon's own.
	Namespace string `yaml:"namespace"`
	// Image of the Jobs' container; default the daemon's own image.
	Image string `yaml:"image"`
	// ServiceAccountName the Jobs run as: it needs what a backup of each
	// target needs (deploy/base/target's Role); default the daemon's own.
	ServiceAccountName string `yaml:"serviceAccountName"`
	// Resources of the Jobs' container.
	Resources JobResources `yaml:"resources"`
	// TTLSecondsAfterFinished is how long a finished Job stays for
	// inspection before Kubernetes deletes it; default 3600, at least 60.
	TTLSecondsAfterFinished int `yaml:"ttlSecondsAfterFinished"`
	// BackoffLimit is how often a failed Job's pod is retried; default 0:
	// the next scheduled run is the retry, as with the in-process executor.
	BackoffLimit int `yaml:"backoffLimit"`
}

// JobResources are a container's requests and limits.
type JobResources struct {
	Requests ResourceList `yaml:"requests"`
	Limits   ResourceList `yaml:"limits"`
}

// ResourceList holds Kubernetes quantities, e.g. cpu: 500m, memory: 128Mi;
// empty ones are not set.
type ResourceList struct {
	CPU              string `yaml:"cpu"`
	Memory           string `yaml:"memory"`
	EphemeralStorage string `yaml:"ephemeral-storage"`
}

// DefaultJobTTL is daemon.job.ttlSecondsAfterFinished's default.
const DefaultJobTTL = 3600

func (f *File) applyJobDefaults() {
	d := &f.Daemon
	if d.Executor == "" {
		d.Executor = ExecutorInProcess
	}
	if d.Job.TTLSecondsAfterFinished == 0 {
		d.Job.TTLSecondsAfterFinished = DefaultJobTTL
	}
}

func (v *validator) executor() {
	d := v.f.Daemon
	switch d.Executor {
	case "", ExecutorInProcess, ExecutorJob:
	default:
		v.fail("daemon.executor", "unknown executor "+v.show("daemon.executor", d.Executor), "use in-process (default) or job")
	}
	p := "daemon.job"
	j := d.Job
	if j.Namespace != "" && !dnsLabel.MatchString(j.Namespace) {
		v.fail(p+".namespace", "invalid namespace "+v.show(p+".namespace", j.Namespace), "omit it for the daemon's own namespace")
	}
	if j.ServiceAccountName != "" && !dnsSubdomain.MatchString(j.ServiceAccountName) {
		v.fail(p+".serviceAccountName", "invalid ServiceAccount name "+v.show(p+".serviceAccountName", j.ServiceAccountName), "omit it for the daemon's own ServiceAccount")
	}
	if j.TTLSecondsAfterFinished != 0 && j.TTLSecondsAfterFinished < 60 {
		v.fail(p+".ttlSecondsAfterFinished", "shorter than 60: the Job could be deleted before the daemon reads its outcome", fmt.Sprintf("omit it for %d", DefaultJobTTL))
	}
	if j.BackoffLimit < 0 {
		v.fail(p+".backoffLimit", "must not be negative", "omit it for 0: the next scheduled run is the retry")
	}
	for _, l := range []struct {
		name string
		r    ResourceList
	}{{"requests", j.Resources.Requests}, {"limits", j.Resources.Limits}} {
		for key, q := range map[string]string{"cpu": l.r.CPU, "memory": l.r.Memory, "ephemeral-storage": l.r.EphemeralStorage} {
			if q == "" {
				continue
			}
			path := p + ".resources." + l.name + "." + key
			if r, err := resource.ParseQuantity(q); err != nil || r.Sign() < 0 {
				v.fail(path, "invalid quantity "+v.show(path, q), "write a Kubernetes quantity, e.g. cpu: 500m, memory: 128Mi")
			}
		}
	}
}

var dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)
