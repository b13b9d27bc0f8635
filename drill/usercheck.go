package drill

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// UserCheck is one check from the config (drill.checks): a read-only
// command run on the scratch server, and the reply it must give.
type UserCheck struct {
	Command string // as written, e.g. EXISTS config:site
	Expect  string
	DB      int
}

// readOnly are the commands a user check may run: they read the dataset
// and change nothing, not even a key's access time in a way a check could
// see. Anything else is refused when the config is loaded.
var readOnly = []string{
	"BITCOUNT", "BITPOS", "DBSIZE", "DUMP", "ECHO", "EXISTS", "EXPIRETIME", "FCALL_RO",
	"GEODIST", "GEOHASH", "GEOPOS", "GEOSEARCH", "GET", "GETBIT", "GETRANGE",
	"HEXISTS", "HEXPIRETIME", "HGET", "HGETALL", "HKEYS", "HLEN", "HMGET", "HPEXPIRETIME", "HPTTL",
	"HRANDFIELD", "HSCAN", "HSTRLEN", "HTTL", "HVALS", "KEYS", "LCS", "LINDEX", "LLEN", "LPOS",
	"LRANGE", "MGET", "OBJECT", "PEXPIRETIME", "PFCOUNT", "PING", "PTTL", "RANDOMKEY", "SCAN",
	"SCARD", "SDIFF", "SINTER", "SINTERCARD", "SISMEMBER", "SMEMBERS", "SMISMEMBER", "SORT_RO",
	"SRANDMEMBER", "SSCAN", "STRLEN", "SUBSTR", "SUNION", "TTL", "TYPE", "XINFO", "XLEN",
	"XPENDING", "XRANGE", "XREAD", "XREVRANGE", "ZCARD", "ZCOUNT", "ZDIFF", "ZINTER",
	"ZINTERCARD", "ZLEXCOUNT", "ZMSCORE", "ZRANDMEMBER", "ZRANGE", "ZRANGEBYLEX",
	"ZRANGEBYSCORE", "ZRANK", "ZREVRANGE", "ZREVRANGEBYLEX", "ZREVRANGEBYSCORE", "ZREVRANK",
	"ZSCAN", "ZSCORE", "ZUNION", "FUNCTION",
}

// readOnlySub limits commands with subcommands to their reading ones.
var readOnlySub = map[string][]string{
	"OBJECT":   {"ENCODING", "FREQ", "IDLETIME", "REFCOUNT"},
	"XINFO":    {"CONSUMERS", "GROUPS", "STREAM"},
	"FUNCTION": {"LIST"},
}

// ParseCommand splits a check's command into words as redis-cli does:
// spaces separate words, double or single quotes group them, and a
// backslash escapes the next character inside double quotes. It refuses
// anything that is not a read-only command.
func ParseCommand(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		quote rune
		in    bool
		esc   bool
	)
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case quote != 0 && r == quote:
			quote = 0
		case quote == '"' && r == '\\':
			esc = true
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 || esc {
		return nil, errors.New("unterminated quote")
	}
	if in {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	name := strings.ToUpper(words[0])
	if !slices.Contains(readOnly, name) {
		return nil, fmt.Errorf("%s is not a read-only command this rdbak allows in a drill check (e.g. EXISTS, GET, HGET, SCARD, ZSCORE, TYPE, DBSIZE)", words[0])
	}
	if subs, ok := readOnlySub[name]; ok {
		if len(words) < 2 || !slices.Contains(subs, strings.ToUpper(words[1])) {
			return nil, fmt.Errorf("%s takes only the subcommands %s in a drill check", name, strings.Join(subs, ", "))
		}
	}
	return words, nil
}

// FormatReply renders a reply for comparison with Expect: integers in
// decimal, strings as they are, nil as (nil), arrays one element a line,
// as redis-cli --raw prints them.
func FormatReply(v any) string {
	switch r := v.(type) {
	case nil:
		return "(nil)"
	case []any:
		parts := make([]string, len(r))
		for i, e := range r {
			parts[i] = FormatReply(e)
		}
		return strings.Join(parts, "\n")
	case []byte:
		return string(r)
	case bool:
		if r {
			return "1"
		}
		return "0"
	}
	return fmt.Sprint(v)
}

// Judge turns a user check's reply (or error) into its verdict.
func Judge(u UserCheck, reply any, err error) Check {
	ch := Check{Name: "check: " + u.Command}
	if u.DB != 0 {
		ch.Name += fmt.Sprintf(" (db%d)", u.DB)
	}
	if err != nil {
		ch.Detail = "the command failed: " + err.Error()
		return ch
	}
	got := FormatReply(reply)
	ch.OK = got == u.Expect
	if ch.OK {
		ch.Detail = fmt.Sprintf("replied %q as expected", got)
	} else {
		ch.Detail = fmt.Sprintf("replied %q, expected %q", got, u.Expect)
	}
	return ch
}
