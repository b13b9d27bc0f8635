package backup

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/rdb"
)

func TestFresh(t *testing.T) {
	req := time.Unix(1_800_000_000, 0)
	aux := func(ctime int64, replID string) rdb.Info {
		a := map[string]string{"ctime": strconv.FormatInt(ctime, 10)}
		if replID != "" {
			a["repl-id"] = replID
		}
		return rdb.Info{Aux: a}
	}
	tests := []struct {
		name   string
		in     rdb.Info
		req    time.Time
		replID string
		stale  bool
	}{
		{"written after the request", aux(req.Unix()+1, ""), req, "", false},
		{"same second", aux(req.Unix(), ""), req, "", false},
		{"the second before: time() lags the clock INFO reads", aux(req.Unix()-1, ""), req, "", false},
		{"two seconds before", aux(req.Unix()-2, ""), req, "", true},
		{"older than the request", aux(req.Unix()-10*86400, ""), req, "", true},
		{"server clock unknown", aux(1, ""), time.Time{}, "", false},
		{"no ctime", rdb.Info{Aux: map[string]string{}}, req, "", false},
		{"same replication id", aux(req.Unix(), "abc"), req, "abc", false},
		{"another server's replication id", aux(req.Unix(), "abc"), req, "def", true},
		{"no repl-id in the file", aux(req.Unix(), ""), req, "def", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := fresh(tc.in, "/data/dump.rdb", tc.req, tc.replID)
			if errors.Is(err, ErrStaleFile) != tc.stale {
				t.Fatalf("fresh = %v, want stale %v", err, tc.stale)
			}
		})
	}
}
