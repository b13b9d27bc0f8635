// Package app is rdbak's application layer: the jobs that every entry point
// runs the same way. It connects to a target (a Redis URL, or a pod found in
// Kubernetes), runs one backup with everything that follows it (heartbeat,
// retention, orphans, a Kubernetes Event), and plans and runs a restore into
// a running Redis.
//
// It sits between the command line and the domain: cmd/rdbak parses flags
// into a Request (where the target and the backups are) and the jobs'
// options, asks for confirmation and prints through internal/render; the
// daemon schedules the typed targets DaemonLoader builds for it, each with
// this package's backup and what follows it. It turns the config file's
// shape (internal/config) into the typed options of the daemon, the domain
// packages (backup, restore, schedule, storage) and the adapters
// (internal/kube, internal/redis), so no config change ripples below it.
//
// Invariants: a failed backup leaves no manifest (backup.Run); a restore
// changes nothing before the backup has been verified completely and every
// pre-flight check passed, and undoes its own changes on failure
// (restore.Apply); what follows a stored backup never turns it into a
// failed one, but is reported (Aftermath).
package app

// ImageRepository is where rdbak's image is published by hack/image.sh and
// named in deploy/; a registry mirror replaces it (RDBAK_RESTORE_IMAGE,
// kustomize images).
const ImageRepository = "rdbak.local/rdbak"

// DefaultImage is the rdbak image of the given build version: the one the
// offline restore strategy runs its restore pod from, unless told otherwise.
func DefaultImage(version string) string { return ImageRepository + ":" + version }
