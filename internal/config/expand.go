package config

import (
	"fmt"
	"regexp"
	"strings"
)

// envName is what ${...} accepts as a variable name: the POSIX shell form, so
// a name that works in `export` works here.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${NAME} and ${NAME:-default} in s and turns $${ into a
// literal ${. It returns the names of the variables it substituted, so callers
// can keep their values out of error messages. Errors name the variable but
// never its value.
func expand(s string, env func(string) (string, bool)) (string, []string, error) {
	if !strings.Contains(s, "${") {
		return s, nil, nil
	}
	var b strings.Builder
	var used []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), used, nil
		}
		if i > 0 && s[i-1] == '$' {
			// $${ is an escaped, literal ${.
			b.WriteString(s[:i])
			b.WriteString("{")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		s = s[i+2:]
		end := strings.IndexAny(s, "}\n")
		if end < 0 || s[end] == '\n' {
			return "", nil, fmt.Errorf("unterminated ${ (write $${ for a literal ${)")
		}
		inner := s[:end]
		s = s[end+1:]
		name, def, hasDef := strings.Cut(inner, ":-")
		if !envName.MatchString(name) {
			return "", nil, fmt.Errorf("invalid variable reference ${%s}: want ${NAME} or ${NAME:-default}", inner)
		}
		val, ok := env(name)
		switch {
		case hasDef && val == "":
			// Shell semantics of :-, the default also replaces an empty value.
			val = def
		case !ok:
			return "", nil, fmt.Errorf("environment variable %s is not set (set it, or write ${%s:-default})", name, name)
		default:
			used = append(used, name)
		}
		if strings.ContainsAny(val, "\r\n") {
			return "", nil, fmt.Errorf("environment variable %s contains a line break", name)
		}
		b.WriteString(val)
	}
}
