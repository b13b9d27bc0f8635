package config

import (
	"strings"
	"testing"
)

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestExpand(t *testing.T) {
	env := mapEnv(map[string]string{"HOST": "10.0.0.1", "EMPTY": "", "PORT": "6380"})
	tests := []struct {
		in, want string
		used     []string
	}{
		{"plain", "plain", nil},
		{"redis://${HOST}:${PORT}", "redis://10.0.0.1:6380", []string{"HOST", "PORT"}},
		{"${UNSET:-fallback}", "fallback", nil},
		{"${HOST:-fallback}", "10.0.0.1", []string{"HOST"}},
		{"${EMPTY:-fallback}", "fallback", nil},
		{"${EMPTY}", "", []string{"EMPTY"}},
		{"${UNSET:-}", "", nil},
		{"${UNSET:-a:-b}", "a:-b", nil},
		{"cost $5 and $HOST", "cost $5 and $HOST", nil},
		{"$${HOST}", "${HOST}", nil},
		{"x$${HOST}y${HOST}", "x${HOST}y10.0.0.1", []string{"HOST"}},
		{"$$", "$$", nil},
	}
	for _, tt := range tests {
		got, used, err := expand(tt.in, env)
		if err != nil {
			t.Errorf("expand(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want || strings.Join(used, ",") != strings.Join(tt.used, ",") {
			t.Errorf("expand(%q) = %q, used %v; want %q, used %v", tt.in, got, used, tt.want, tt.used)
		}
	}
}

func TestExpandErrors(t *testing.T) {
	env := mapEnv(map[string]string{"MULTI": "line1\nhunter2", "CR": "a\rb"})
	tests := []struct{ in, want string }{
		{"${UNSET}", "environment variable UNSET is not set"},
		{"${MULTI}", "environment variable MULTI contains a line break"},
		{"${CR}", "environment variable CR contains a line break"},
		{"${HOST", "unterminated ${"},
		{"${HOST\n}", "unterminated ${"},
		{"${}", "invalid variable reference ${}"},
		{"${1X}", "invalid variable reference ${1X}"},
		{"${A-b}", "invalid variable reference ${A-b}"},
		{"${A B}", "invalid variable reference ${A B}"},
	}
	for _, tt := range tests {
		_, _, err := expand(tt.in, env)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("expand(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("expand(%q) error shows the value: %v", tt.in, err)
		}
	}
}
