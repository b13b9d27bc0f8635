// Package cluster holds the pure decisions rdbak makes about a Redis
// Cluster: which slot a key hashes to, what the topology is (read from
// CLUSTER SHARDS or CLUSTER NODES), whether it is safe to back up (every
// slot served, no slot migrating or importing), which node of each shard to
// take the snapshot from, and which node of a target cluster owns a key on
// replay.
//
// Invariants:
//   - A Topology that passes Check covers each of the 16384 slots exactly
//     once, and every shard that serves slots has one master.
//   - Nothing here talks to Redis: the adapter (internal/redis) reads the
//     replies, internal/app asks the questions.
package cluster
