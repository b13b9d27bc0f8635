package daemon

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rdbak/rdbak/backup"
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
}

// perTarget are the vectors with a target label, for adding and removing
// targets on reload.
func (m *metrics) perTarget() []interface {
	DeletePartialMatch(prometheus.Labels) int
} {
	return []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.backups, m.lastSuccess, m.duration, m.bytes, m.inProgress, m.cow, m.structure, m.skipped, m.pruneDeleted, m.pruneFailures, m.heartbeatFail}
}

func newMetrics() *metrics {
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
	}
	m.reg.MustRegister(m.backups, m.lastSuccess, m.duration, m.bytes, m.inProgress, m.cow, m.structure, m.skipped,
		m.pruneDeleted, m.pruneFailures, m.heartbeatFail, m.reloads, m.lastReload, m.leader,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{resultSuccess, resultFailure} {
		m.reloads.WithLabelValues(r)
	}
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
