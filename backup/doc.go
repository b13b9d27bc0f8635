// Package backup takes one fresh RDB snapshot of a Redis server and stores
// it: a Source opens the snapshot stream (over the replication protocol, or
// BGSAVE and the dump file), Run verifies it as it flows (RDB structure,
// CRC-64, length), hashes and compresses it into a data object, and writes
// the manifest last.
//
// Invariants:
//   - Data first, manifest last: a backup whose manifest was not written
//     does not exist. Any failure or cancellation aborts the upload and
//     removes what was written, so a failed backup leaves nothing that
//     list, verify or restore would see.
//   - The snapshot is fresh: a BGSAVE counts only when a save that started
//     after the request has finished with status ok (Snapshot); SAVE is
//     never used.
//   - Bytes stream through: memory is constant whatever the dataset size;
//     nothing holds the whole RDB in memory or on local disk.
//   - The package talks to Redis only through the small Server, Source and
//     FileReader interfaces; the adapters in internal/redis and
//     internal/kube implement them.
package backup
