package redis

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/backup"
)

// replyText is an error reply as go-redis returns it (its own type is
// internal).
type replyText string

func (e replyText) Error() string { return string(e) }
func (replyText) RedisError()     {}

var _ goredis.Error = replyText("")

func TestReplyClasses(t *testing.T) {
	tests := []struct {
		reply string
		want  []error
	}{
		{"WRONGPASS invalid username-password pair or user is disabled.", []error{ErrWrongPass}},
		{"NOAUTH Authentication required.", []error{ErrNoAuth}},
		{"NOPERM User rdbak has no permissions to run the 'bgsave' command", []error{ErrNoPerm, backup.ErrNotAllowed}},
		{"LOADING Redis is loading the dataset in memory", []error{ErrLoading}},
		{"MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.", []error{ErrMisconf}},
		{"READONLY You can't write against a read only replica.", []error{ErrReadOnly}},
		{"NOMASTERLINK Can't SYNC while not connected with my master", []error{ErrNoMasterLink}},
		{"ERR unknown command 'CONFIG', with args beginning with: 'GET' 'dir' ", []error{ErrUnknownCommand, backup.ErrNotAllowed}},
		{"ERR Background save already in progress", []error{backup.ErrSaveInProgress}},
		{"ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.", []error{backup.ErrChildActive}},
		{"ERR Background save failed: fork: Cannot allocate memory", nil},
	}
	all := []error{ErrWrongPass, ErrNoAuth, ErrNoPerm, ErrLoading, ErrMisconf, ErrReadOnly, ErrNoMasterLink, ErrUnknownCommand, backup.ErrSaveInProgress, backup.ErrChildActive, backup.ErrNotAllowed}
	for _, tc := range tests {
		// As go-redis returns it, then wrapped by a caller.
		err := fmt.Errorf("send BGSAVE: %w", classify(replyText(tc.reply)))
		if err.Error() != "send BGSAVE: "+tc.reply {
			t.Errorf("classified text %q, want Redis's own %q", err, tc.reply)
		}
		for _, class := range all {
			if got := errors.Is(err, class); got != slices.Contains(tc.want, class) {
				t.Errorf("errors.Is(%q, %v) = %v", tc.reply, class, got)
			}
		}
	}
	if err := classify(errors.New("dial tcp: connection refused")); errors.As(err, new(*ReplyError)) {
		t.Errorf("a transport error became a reply: %v", err)
	}
}
