// Package drill decides whether a restore drill passed: a backup restored
// into a scratch Redis that nobody else uses, compared with what the backup
// claims to hold. It is pure: the application layer (internal/app) fetches
// the backup, starts the scratch server and asks it questions; this package
// chooses the server, says what to expect, judges what was observed and
// stores the verdict.
//
// Invariants:
//   - A drill never reads from or writes to the target's live Redis: its
//     only inputs are the backup in storage and the scratch server.
//   - Keys may go missing only by expiring: a key whose expire time was not
//     yet reached when the last observation ended must be there, and a key
//     that had expired before the scratch server started must not.
//   - Drill records are immutable: each drill writes a new object beside
//     the backup (storage.DrillRecordName), never over an earlier one, so a
//     later failed drill cannot erase the proof of an earlier success.
package drill
