// Package schedule decides when backups run and which backups are kept.
//
// It is domain code: it imports no Kubernetes or Redis client, reads no
// clock of its own (a Clock is injected) and does no I/O except through the
// small interfaces it declares. Its invariants:
//
//   - Retention is a pure function (Plan) from manifests and a Policy to one
//     decision per backup, with the reasons for it. The newest backup is
//     always kept, whatever the policy says, and a policy never leaves fewer
//     than MinKeep backups. Only backups with a manifest exist for it: a
//     failed backup never has one, so it can never count as a keeper.
//   - A Policy with no keep rule keeps everything: pruning deletes only what
//     an explicit rule leaves out.
//   - Prune deletes a backup manifest first, then its data (storage.Repo
//     does that), oldest first, and starts no deletion once its context is
//     cancelled.
//   - The Scheduler never runs two jobs of the same name at once: a job that
//     falls due while its previous run is still going is skipped and
//     reported, never queued. At most Concurrency runs are in flight.
package schedule
