package redis

import (
	"errors"
	"fmt"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/backup"
)

// Classes of Redis error replies, for callers that branch on them. A
// *ReplyError matches the one its text starts with (errors.Is).
var (
	ErrWrongPass = errors.New("WRONGPASS: invalid username-password pair")
	ErrNoAuth    = errors.New("NOAUTH: authentication required")
	ErrNoPerm    = errors.New("NOPERM: the ACL user may not run this command")
	ErrLoading   = errors.New("LOADING: Redis is loading its dataset")
	ErrMisconf   = errors.New("MISCONF: Redis cannot persist to disk")
	ErrReadOnly  = errors.New("READONLY: the server is a read-only replica")
	// ErrNoMasterLink: a replica refuses SYNC while its master link is down.
	ErrNoMasterLink = errors.New("NOMASTERLINK: the replica's link to its master is down")
	// ErrUnknownCommand: the command is renamed, disabled or unknown.
	ErrUnknownCommand = errors.New("unknown command")
)

// replyClasses maps a reply's prefix to its class, in one place.
var replyClasses = []struct {
	prefix string
	class  error
}{
	{"WRONGPASS", ErrWrongPass},
	{"NOAUTH", ErrNoAuth},
	{"NOPERM", ErrNoPerm},
	{"LOADING", ErrLoading},
	{"MISCONF", ErrMisconf},
	{"READONLY", ErrReadOnly},
	{"NOMASTERLINK", ErrNoMasterLink},
	{"ERR unknown command", ErrUnknownCommand},
	{"ERR unknown command", backup.ErrNotAllowed},
	{"NOPERM", backup.ErrNotAllowed},
	{"ERR Background save already in progress", backup.ErrSaveInProgress},
	// "ERR Another child process is active (AOF?): can't BGSAVE right now.
	// Use BGSAVE SCHEDULE ..." (Redis 6.2 to 8).
	{"ERR Another child process is active", backup.ErrChildActive},
}

// ReplyError is an error reply from Redis. Its text is Redis's own message
// without the leading '-' (e.g. "NOAUTH Authentication required.").
type ReplyError struct {
	Msg string
}

func (e *ReplyError) Error() string { return e.Msg }

// Is matches the class of the reply (ErrWrongPass, backup.ErrSaveInProgress, ...).
func (e *ReplyError) Is(target error) bool {
	for _, c := range replyClasses {
		if c.class == target && strings.HasPrefix(e.Msg, c.prefix) {
			return true
		}
	}
	return false
}

// classify turns a go-redis error reply into a *ReplyError with the same
// text; other errors are returned unchanged.
func classify(err error) error {
	var rerr goredis.Error
	var mine *ReplyError
	if errors.As(err, &rerr) && !errors.As(err, &mine) {
		return &ReplyError{Msg: rerr.Error()}
	}
	return err
}

// authHint says where rdbak takes a password from, for a server that
// wants one (NOAUTH) or refuses the one given (WRONGPASS).
const authHint = "give the user and password of this server: in the URL, --password-file, REDIS_PASSWORD or REDISCLI_AUTH; in a config file, passwordFile or passwordEnv"

// explain adds what the operator must fix to the refusals that no retry
// cures: a missing or wrong password, a command the ACL user may not run.
// Other errors are returned unchanged.
func explain(cmd, addr string, err error) error {
	switch {
	case errors.Is(err, ErrNoAuth), errors.Is(err, ErrWrongPass):
		return fmt.Errorf("authenticate to %s: %w (%s)", addr, err, authHint)
	case errors.Is(err, ErrNoPerm):
		return fmt.Errorf("send %s to %s: %w (grant it to the ACL user; README \"Security\" lists what each job needs)", cmd, addr, err)
	}
	return err
}
