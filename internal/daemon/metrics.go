package daemon

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/schedule"
	"github.com/rdbak/rdbak/storage"
)

// Metric label values.
const (
	resultSuccess = "success"
	resultFailure = "failure"
)

// metrics are the daemon's Prometheus metrics, on a registry of their own
// (no global state, so tests can run daemons side by side).
type metrics struct {
	reg *prometheus.Registry

	backups       *prometheus.CounterVec   // target, result
	lastSuccess   *prometheus.GaugeVec     // target
	duration      *prometheus.HistogramVec // target, phase
	bytes         *prometheus.GaugeVec     // target, kind
	inProgress    *prometheus.GaugeVec     // target
	cow           *prometheus.GaugeVec     // target
	structure     *prometheus.GaugeVec     // target
	skipped       *prometheus.CounterVec   // target
	pruneDeleted  *prometheus.CounterVec   // target, kind
	pruneFailures *prometheus.CounterVec   // target
	heartbeatFail *prometheus.CounterVec   // target
	reloads       *prometheus.CounterVec   // result
	lastReload    prometheus.Gauge
	leader        prometheus.Gauge

	drills           *prometheus.CounterVec   // target, result
	drillLastSuccess *prometheus.GaugeVec     // target
	drillDuration    *prometheus.HistogramVec // target
	interval         *prometheus.GaugeVec     // target
	drillInterval    *prometheus.GaugeVec     // target
	buildInfo        *prometheus.GaugeVec     // version
	lateness         *prometheus.HistogramVec // kind
}

// perTarget are the vectors with a target label, for adding and removing
// targets on reload.
func (m *metrics) perTarget() []interface {
	DeletePartialMatch(prometheus.Labels) int
} {
	return []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.backups, m.lastSuccess, m.duration, m.bytes, m.inProgress, m.cow, m.structure, m.skipped, m.pruneDeleted, m.pruneFailures, m.heartbeatFail,
		m.drills, m.drillLastSuccess, m.drillDuration, m.interval, m.drillInterval}
}

func newMetrics(version string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		backups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdbak_backup_total", Help: "Scheduled backups by outcome (result is success or failure).",
		}, []string{"target", "result"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rdbak_backup_last_success_timestamp_seconds",
			Help: "When the newest backup of the target finished (Unix time); read from storage at start, so it survives restarts. Alert on its age.",
		}, []string{"target"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rdbak_backup_duration_seconds",
			Help: "Duration of successful backups by phase: snapshot (BGSAVE or sync until the RDB streams), stream (verify, compress, upload), commit (manifest), total.",
			// From a second to three hours.
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 10800},
		}, []string{"target", "phase"}),
		bytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rdbak_backup_bytes", Help: "Size of the newest successful backup: kind raw is the RDB, stored the compressed object.",
		}, []string{"target", "kind"}),
		inProgress: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rdbak_backup_in_progress", Help: "1 while a backup of the target runs.",
		}, []string{"target"}),
		cow: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rdbak_bgsave_cow_bytes",
			Help: "Copy-on-write peak of the fork that wrote the newest backup's snapshot, as Redis reported it (rdb_last_cow_size): the extra memory a backup costs the server.",
		}, []string{"target"}),
		structure: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rdbak_backup_rdb_structure_verified",
			Help: "1 when the newest backup's RDB structure was parsed; 0 when it was kept on its CRC-64 alone because the RDB version or a record is newer than this rdbak: upgrade rdbak.",
		}, []string{"target"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdbak_backup_skipped_total", Help: "Scheduled runs skipped because the previous backup of the target was still running.",
		}, []string{"target"}),
		pruneDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdbak_prune_deleted_total", Help: "Deleted by retention (kind backup) or orphan collection (kind orphan).",
		}, []string{"target", "kind"}),
		pruneFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdbak_prune_failures_total", Help: "Retention or orphan collection runs that failed; backups accumulate until fixed.",
		}, []string{"target"}),
		heartbeatFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdbak_heartbeat_failures_total", Help: "Heartbeat calls after a successful backup that failed.",
		}, []string{"target"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdbak_config_reload_total", Help: "Config reloads by outcome; on failure the previous config stays in force.",
		}, []string{"result"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rdbak_config_last_reload_success_timestamp_seconds", Help: "When the running config was loaded (Unix time).",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rdbak_leader", Help: "1 when this replica schedules backups (the leader, or leader election is off).",
		}),
		drills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rdbak_drill_total", Help: "Restore drills by outcome (result is success or failure): the latest backup loaded into a scratch server and checked.",
		}, []string{"target", "result"}),
		drillLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rdbak_drill_last_success_timestamp_seconds",
			Help: "When the newest successful restore drill of the target finished (Unix time); read from storage at start. Alert on its age.",
		}, []string{"target"}),
		drillDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "rdbak_drill_duration_seconds",
			Help:    "Duration of restore drills, successful or not: fetch and verify, load into the scratch server, checks.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
		}, []string{"target"}),
		interval: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rdbak_backup_schedule_interval_seconds",
			Help: "The longest gap between two scheduled backups of the target: the age of the last success beyond which a backup is overdue.",
		}, []string{"target"}),
		drillInterval: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rdbak_drill_schedule_interval_seconds",
			Help: "The longest gap between two scheduled drills of the target; absent for targets without a drill schedule.",
		}, []string{"target"}),
		lateness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rdbak_schedule_start_lateness_seconds",
			Help: "How long after its (jittered) due time a scheduled run started, by kind (backup or drill): waiting for a daemon.concurrency slot is most of it. Without a target label, so that a fleet of targets costs one histogram.",
			// From 10 ms to an hour.
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"kind"}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rdbak_build_info", Help: "Always 1; the version label is this rdbak's.",
		}, []string{"version"}),
	}
	m.reg.MustRegister(m.backups, m.lastSuccess, m.duration, m.bytes, m.inProgress, m.cow, m.structure, m.skipped,
		m.pruneDeleted, m.pruneFailures, m.heartbeatFail, m.reloads, m.lastReload, m.leader,
		m.drills, m.drillLastSuccess, m.drillDuration, m.interval, m.drillInterval, m.buildInfo, m.lateness,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{resultSuccess, resultFailure} {
		m.reloads.WithLabelValues(r)
	}
	m.buildInfo.WithLabelValues(version).Set(1)
	return m
}

// addTarget creates target's series at zero, so that rates and absence
// alerts work before its first backup.
func (m *metrics) addTarget(target string) {
	for _, r := range []string{resultSuccess, resultFailure} {
		m.backups.WithLabelValues(target, r)
	}
	m.inProgress.WithLabelValues(target)
	m.skipped.WithLabelValues(target)
	m.pruneDeleted.WithLabelValues(target, "backup")
	m.pruneDeleted.WithLabelValues(target, "orphan")
	m.pruneFailures.WithLabelValues(target)
	m.heartbeatFail.WithLabelValues(target)
	for _, r := range []string{resultSuccess, resultFailure} {
		m.drills.WithLabelValues(target, r)
	}
}

// schedules sets the schedule interval gauges of t at now; a target
// without a (drill) schedule has no such series.
func (m *metrics) schedules(t *Target, now time.Time) {
	drills := t.DrillSchedule
	if t.Drill == nil {
		drills = schedule.Spec{}
	}
	for _, s := range []struct {
		v    *prometheus.GaugeVec
		spec schedule.Spec
	}{{m.interval, t.Schedule}, {m.drillInterval, drills}} {
		if iv := s.spec.MaxInterval(now); iv > 0 {
			s.v.WithLabelValues(t.Name).Set(iv.Seconds())
		} else {
			s.v.DeleteLabelValues(t.Name)
		}
	}
}

// drill records one drill's outcome.
func (m *metrics) drill(target string, rec *drill.Record) {
	result := resultFailure
	if rec != nil && rec.OK() {
		result = resultSuccess
	}
	m.drills.WithLabelValues(target, result).Inc()
	if rec != nil {
		m.drillDuration.WithLabelValues(target).Observe(rec.DurationSeconds)
	}
}

// removeTarget drops the series of a target no longer configured, so that
// it does not alert forever.
func (m *metrics) removeTarget(target string) {
	for _, v := range m.perTarget() {
		v.DeletePartialMatch(prometheus.Labels{"target": target})
	}
}

func (m *metrics) success(target string, res *backup.Result) {
	man := res.Manifest
	m.backups.WithLabelValues(target, resultSuccess).Inc()
	m.lastSuccess.WithLabelValues(target).Set(float64(man.Finished.UnixNano()) / 1e9)
	total := res.Snapshot + res.Stream + res.Commit
	for phase, d := range map[string]float64{"snapshot": res.Snapshot.Seconds(), "stream": res.Stream.Seconds(), "commit": res.Commit.Seconds(), "total": total.Seconds()} {
		m.duration.WithLabelValues(target, phase).Observe(d)
	}
	m.bytes.WithLabelValues(target, "raw").Set(float64(man.Data.RawSize))
	m.bytes.WithLabelValues(target, "stored").Set(float64(man.Data.StoredSize))
	verified := 0.0
	if man.RDB.StructureOf() == storage.StructureVerified {
		verified = 1
	}
	m.structure.WithLabelValues(target).Set(verified)
}
