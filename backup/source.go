package backup

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/internal/redis/info"
	"github.com/rdbak/rdbak/storage"
)

// Stream is one RDB snapshot flowing out of a source.
type Stream struct {
	// Body yields exactly the RDB bytes, from the "REDIS" magic through the
	// checksum trailer. The caller closes it; closing early aborts the
	// transfer. A transfer that ends early returns an error from Read, never
	// a clean io.EOF.
	Body io.ReadCloser
	// Size is the RDB length in bytes when the source knows it up front,
	// -1 when it does not (diskless replication).
	Size int64
	// Origin says where the bytes came from, for the manifest and logs
	// (e.g. "replication 10.0.0.7:6379" or "file pod/ns/name:/data/dump.rdb").
	Origin string
	// ForkCost, when set, returns the copy-on-write memory that the fork
	// writing this snapshot cost Redis, -1 when unknown. Call it after the
	// stream has ended: Redis reports it once it has reaped the child.
	ForkCost func(ctx context.Context) int64
	// Accept, when set, checks the streamed RDB's own facts (its AUX
	// fields) against what the source knows, after the stream verified and
	// before anything is committed; an error fails the backup.
	Accept func(info rdb.Info) error
}

// Source produces a fresh RDB snapshot of one Redis server.
type Source interface {
	// Open returns a stream of an RDB snapshot that started after Open was
	// called. Open may be retried after an error; it leaves nothing open.
	Open(ctx context.Context) (*Stream, error)
}

// Errors a Server's BGSave returns (wrapped, with Redis's own text) for
// the refusals Snapshot works around.
var (
	// ErrSaveInProgress: another save (BGSAVE, or one for a replica) runs.
	ErrSaveInProgress = errors.New("a background save is already in progress")
	// ErrChildActive: another child process (an AOF rewrite) runs, so only
	// BGSAVE SCHEDULE is accepted.
	ErrChildActive = errors.New("another child process is active")
	// ErrNotAllowed: the server does not run the command for this user:
	// it is renamed or disabled (rename-command), or the ACL user lacks it.
	// Waiting does not help; the configuration must change.
	ErrNotAllowed = errors.New("the command is renamed, disabled or not permitted for this user")
)

// Server is the part of a Redis server's command set that a snapshot needs.
// The go-redis adapter in internal/redis implements it.
type Server interface {
	// Info returns the INFO sections asked for ("persistence",
	// "replication", "server"), parsed.
	Info(ctx context.Context, sections ...string) (*info.Info, error)
	// BGSave sends BGSAVE, or BGSAVE SCHEDULE when schedule is true, and
	// returns Redis's status reply. A Redis error reply is returned as an
	// error whose text is Redis's own message, wrapping ErrSaveInProgress,
	// ErrChildActive or ErrNotAllowed when it is one of those refusals.
	BGSave(ctx context.Context, schedule bool) (string, error)
	// LastSave returns LASTSAVE.
	LastSave(ctx context.Context) (time.Time, error)
	// ConfigGet returns the value of one CONFIG GET parameter.
	ConfigGet(ctx context.Context, name string) (string, error)
}

// FileReader opens a file beside a Redis server: on the local machine, or in
// a pod through exec.
type FileReader interface {
	// OpenFile opens path for reading and returns its length as measured on
	// the opened file (so a rename over path after the open does not change
	// what is read). The reader must fail, not return io.EOF, if fewer than
	// size bytes arrive. The caller closes it.
	OpenFile(ctx context.Context, path string) (io.ReadCloser, int64, error)
}

// Identify names the server from its INFO server section: Valkey reports
// its own valkey_version beside the redis_version (7.2.4) it shows clients,
// and the true version is the one that decides what it loads and writes.
func Identify(server info.Server) storage.Redis {
	if server.ValkeyVersion != "" {
		return storage.Redis{Flavor: storage.FlavorValkey, Version: server.ValkeyVersion, RedisCompat: server.Version}
	}
	return storage.Redis{Flavor: storage.FlavorRedis, Version: server.Version}
}
