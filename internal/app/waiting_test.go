package app

import (
	"context"
	"errors"
	"testing"
)

type fakeConfig map[string]string

func (f fakeConfig) ConfigGet(_ context.Context, name string) (string, error) {
	v, ok := f[name]
	if !ok {
		return "", errors.New("ERR unknown command 'CONFIG'")
	}
	return v, nil
}

func TestWaitingFor(t *testing.T) {
	tests := []struct {
		name  string
		srv   fakeConfig
		kind  string
		shown bool
		want  string
	}{
		{"diskless with delay", fakeConfig{"repl-diskless-sync": "yes", "repl-diskless-sync-delay": "5"}, "replication", true, "replication snapshot (repl-diskless-sync-delay 5 s, then fork)"},
		{"diskless no delay", fakeConfig{"repl-diskless-sync": "yes", "repl-diskless-sync-delay": "0"}, "replication", true, "replication snapshot (fork)"},
		{"to disk", fakeConfig{"repl-diskless-sync": "no"}, "replication", true, "replication snapshot (BGSAVE/fork to disk, repl-diskless-sync no)"},
		{"CONFIG disabled", fakeConfig{}, "replication", true, ""},
		{"file source", fakeConfig{"repl-diskless-sync": "yes"}, "file", true, ""},
		{"no progress shown", fakeConfig{"repl-diskless-sync": "yes"}, "replication", false, ""},
	}
	for _, tt := range tests {
		if got := waitingFor(t.Context(), tt.srv, tt.kind, tt.shown); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
