// Package redis is rdbak's adapter to Redis servers. It holds two things the
// backup domain needs and must not implement itself:
//
//   - PullSource, a backup.Source that takes a fresh RDB snapshot over the
//     replication protocol, as `redis-cli --rdb` does, and streams it to the
//     caller without touching the local disk or buffering the whole file.
//   - Client, a backup.Server built on go-redis for INFO, BGSAVE, LASTSAVE
//     and CONFIG GET.
//
// Invariants:
//   - A pulled stream yields exactly the RDB bytes (never the RESP framing or
//     the diskless end-of-RDB mark). A transfer that stops early makes Read
//     fail with an error wrapping io.ErrUnexpectedEOF, never a clean io.EOF,
//     so a truncated snapshot cannot be mistaken for a complete one.
//   - Redis error replies keep Redis's own text, so operators see what the
//     server said (WRONGPASS, NOPERM, NOMASTERLINK, ...).
//   - Passwords never appear in errors.
package redis
