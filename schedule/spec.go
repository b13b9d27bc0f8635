package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Spec is a parsed schedule: a cron spec as robfig/cron v3 understands it.
// The zero Spec is "not scheduled".
type Spec struct {
	text  string
	sched cron.Schedule
	loc   *time.Location
}

// parser accepts standard 5-field specs and descriptors (@hourly, @daily,
// @every 30m, ...), with an optional CRON_TZ= or TZ= prefix.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// neverCheckFrom is where ParseSpec looks for a first run, so that a spec
// that can never fire (0 0 30 2 *) is rejected the same way at any time.
var neverCheckFrom = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ParseSpec parses s: "0 3 * * *", "@daily", "@every 30m",
// "CRON_TZ=Europe/Oslo 0 3 * * *". Without a time zone prefix, times are in
// the process's local time zone (TZ; UTC in most containers).
func ParseSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	var loc *time.Location
	rest := s
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		prefix, after, ok := strings.Cut(s, " ")
		if !ok || strings.TrimSpace(after) == "" {
			// robfig/cron v3.0.1 panics on a prefix without a spec.
			return Spec{}, errors.New("a time zone prefix must be followed by a spec, e.g. CRON_TZ=Europe/Oslo 0 3 * * *")
		}
		_, name, _ := strings.Cut(prefix, "=")
		var err error
		if loc, err = time.LoadLocation(name); err != nil || name == "" {
			return Spec{}, fmt.Errorf("unknown time zone %q: use an IANA name such as Europe/Oslo or UTC", name)
		}
		rest = strings.TrimSpace(after)
	}
	if d, ok := strings.CutPrefix(rest, "@every "); ok {
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || dur < time.Second {
			return Spec{}, fmt.Errorf("@every needs a duration of at least 1s, e.g. @every 30m; got %q", d)
		}
	}
	sched, err := parser.Parse(s)
	if err != nil {
		return Spec{}, fmt.Errorf("parse schedule: %w", err)
	}
	if sched.Next(neverCheckFrom).IsZero() {
		return Spec{}, errors.New("the schedule never falls due (no date matches it)")
	}
	return Spec{text: s, sched: sched, loc: loc}, nil
}

// IsZero reports whether the Spec is unset.
func (s Spec) IsZero() bool { return s.sched == nil }

// String returns the spec as written.
func (s Spec) String() string { return s.text }

// Location returns the time zone named by the spec's CRON_TZ= or TZ=
// prefix, or nil when it has none.
func (s Spec) Location() *time.Location { return s.loc }

// Next returns the first due time strictly after t; the zero time for the
// zero Spec.
func (s Spec) Next(t time.Time) time.Time {
	if s.sched == nil {
		return time.Time{}
	}
	return s.sched.Next(t)
}

// intervalRuns is how many runs MaxInterval looks at: enough for a
// weekday schedule's weekend gap and a monthly one's longest month.
const intervalRuns = 16

// MaxInterval returns the longest gap between two consecutive runs among
// the next few after from: how long a target can go without a run when
// all is well, which alerts on the age of the last success compare with.
// Zero for the zero Spec.
func (s Spec) MaxInterval(from time.Time) time.Duration {
	if s.IsZero() {
		return 0
	}
	var longest time.Duration
	prev := s.Next(from)
	for range intervalRuns {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	return longest
}
