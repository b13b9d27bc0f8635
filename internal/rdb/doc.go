// Package rdb verifies Redis RDB files as they stream past.
//
// Copy sits inline in rdbak's backup pipeline (source → verifier →
// SHA-256 and byte count → compression → object storage) and in restore
// before anything live is replaced. It parses every opcode and value type of
// Redis RDB versions 1 to 15 and Valkey's VALKEY080 and VALKEY081 just far
// enough to skip it exactly, and checks the CRC-64 trailer, so a truncated,
// padded or damaged file is refused instead of stored or loaded.
//
// Invariants:
//   - Every byte read from the source is written to the destination, in
//     order, before the parser judges it; a non-nil error means "discard".
//   - Memory is bounded: one fixed buffer, whatever the declared lengths.
//     Values are skipped, never decoded; only AUX strings (≤ 64 KiB each)
//     are kept. A huge declared length streams until the input ends.
//   - Every loop consumes at least one byte per step, so any input ends in
//     a result or an error; malformed input never panics.
//   - A file is accepted only if it is complete: a magic and version this
//     build knows, well-formed records up to EOF, the trailer (version ≥ 5),
//     and nothing after it. The checksum is verified unless it is 0 (the
//     writer had rdbchecksum off), which Info records.
//   - Or, when the structure is beyond this build (a newer version, another
//     magic, a type whose layout it does not know, a record it disagrees
//     with): only if the file ends in EOF and a non-zero CRC-64 of every
//     byte before it. The CRC that Redis wrote over its own bytes is the
//     authority on integrity; Info.Unparsed records that the structure was
//     not checked and why. A backup must never fail because Redis got newer.
//   - Without a checksum the parse is the only check and stays strict.
//   - Like Redis's rdbLoad, opcodes, types and the 64-bit length form are
//     accepted in a file of any version; the magic decides what the
//     numbers Redis and Valkey both use (22, 23, 243) mean.
//
// Copy checks framing, not content: the insides of ziplist, listpack and
// intset blobs, and LZF payloads of values, are not decoded. With a
// checksum present the CRC covers them.
package rdb
