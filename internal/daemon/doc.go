// Package daemon runs rdbak unattended: it schedules a backup of every
// target with a schedule, applies the retention policy after each success,
// serves /metrics, /healthz and /readyz, reloads its config on SIGHUP or
// when the file changes, and shuts down gracefully.
//
// Invariants:
//
//   - Never two backups of one target at once (a due run is skipped and
//     counted in rdbak_backup_skipped_total), and at most
//     daemon.concurrency backups over all targets.
//     With executor job (internal/app) each backup is a Kubernetes Job,
//     and the limit counts the Jobs running, also those a previous daemon
//     started.
//   - A config that does not validate never replaces the running one; the
//     reason is logged and rdbak_config_reload_total{result="failure"}
//     counts it.
//   - On shutdown no backup starts; those in flight get shutdownGrace to
//     finish and are then cancelled, which aborts their upload: a
//     cancelled backup leaves no manifest and no data behind.
//   - The heartbeat is called only after a committed backup, whose RDB
//     structure, checksum and length were verified as it streamed.
//   - With leader election only the leader schedules; a replica that loses
//     the lease cancels its backups in flight at once.
//
// The daemon never sees the config file's shape: Options.Load (built by
// internal/app) turns the file into a typed Config, and each Target
// carries its Backup and After, the same code rdbak now runs, so the
// daemon and a CronJob produce identical backups.
package daemon
