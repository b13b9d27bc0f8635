// Package scratch runs the throw-away Redis servers that restore drills
// load backups into: a local redis-server or valkey-server in a temporary
// directory, listening on a free loopback port, with persistence off and a
// random password.
//
// Invariants: a scratch server never writes anything outside its directory
// (save "" and appendonly no: it cannot even write there after loading),
// is reachable only from this host with its password, and is killed by
// Stop, or by the kernel when this process dies (Linux parent-death
// signal); the caller removes its directory.
package scratch
