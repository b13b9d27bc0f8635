package drill

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{in: "EXISTS config:site", want: []string{"EXISTS", "config:site"}},
		{in: `  hget  "user:1 name"  'first name' `, want: []string{"hget", "user:1 name", "first name"}},
		{in: `GET "a\"b"`, want: []string{"GET", `a"b`}},
		{in: "OBJECT ENCODING k", want: []string{"OBJECT", "ENCODING", "k"}},
		{in: "DEL config:site", err: "DEL is not a read-only command"},
		{in: "FLUSHALL", err: "FLUSHALL is not a read-only command"},
		{in: "EVAL \"return 1\" 0", err: "EVAL is not a read-only command"},
		{in: "FUNCTION DELETE lib", err: "FUNCTION takes only the subcommands LIST"},
		{in: "OBJECT", err: "OBJECT takes only"},
		{in: `GET "open`, err: "unterminated quote"},
		{in: "   ", err: "empty command"},
	} {
		got, err := ParseCommand(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseCommand(%q) error = %v, want %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("ParseCommand(%q): %v", tc.in, err)
		case strings.Join(got, "|") != strings.Join(tc.want, "|"):
			t.Errorf("ParseCommand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJudge(t *testing.T) {
	u := UserCheck{Command: "EXISTS config:site", Expect: "1"}
	for _, tc := range []struct {
		reply any
		err   error
		ok    bool
		want  string
	}{
		{reply: int64(1), ok: true, want: `replied "1" as expected`},
		{reply: int64(0), want: `replied "0", expected "1"`},
		{reply: nil, want: `replied "(nil)"`},
		{reply: []any{"a", int64(2)}, want: `replied "a\n2"`},
		{err: errors.New("ERR boom"), want: "the command failed: ERR boom"},
	} {
		ch := Judge(u, tc.reply, tc.err)
		if ch.OK != tc.ok || !strings.Contains(ch.Detail, tc.want) || ch.Name != "check: EXISTS config:site" {
			t.Errorf("Judge(%v, %v) = %+v, want ok %v and %q", tc.reply, tc.err, ch, tc.ok, tc.want)
		}
	}
}
