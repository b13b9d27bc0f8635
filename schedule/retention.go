package schedule

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// Policy says which backups of one target to keep, in the manner of
// restic's forget: each Keep rule selects backups, and a backup selected by
// any rule is kept. Calendar rules take the newest backup of each hour, day,
// ISO week, month or year in Location, for the N newest such periods that
// have backups. The zero Policy has no rule and keeps everything.
type Policy struct {
	Last    int // the N newest backups
	Hourly  int
	Daily   int
	Weekly  int // ISO 8601 weeks, Monday to Sunday
	Monthly int
	Yearly  int
	// Within keeps every backup created at most this long before the
	// newest one. It counts back from the newest backup, not from now, so
	// a schedule that has been failing for a while does not age out the
	// last good backups.
	Within time.Duration
	// MinKeep is a floor: if the rules keep fewer backups, the newest
	// others are kept too until there are MinKeep (or all of them).
	MinKeep int
	// Location is the time zone of the calendar rules; nil means UTC.
	Location *time.Location
}

// IsZero reports whether p has no keep rule, so that it keeps everything.
// MinKeep alone is not a rule.
func (p Policy) IsZero() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 &&
		p.Monthly == 0 && p.Yearly == 0 && p.Within == 0
}

// String describes p in the config file's terms, for logs and plans.
func (p Policy) String() string {
	if p.IsZero() {
		return "keep everything (no retention rule)"
	}
	var parts []string
	for _, r := range []struct {
		name string
		n    int
	}{{"keepLast", p.Last}, {"keepHourly", p.Hourly}, {"keepDaily", p.Daily}, {"keepWeekly", p.Weekly}, {"keepMonthly", p.Monthly}, {"keepYearly", p.Yearly}} {
		if r.n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", r.name, r.n))
		}
	}
	if p.Within > 0 {
		parts = append(parts, "keepWithin="+FormatDuration(p.Within))
	}
	if p.MinKeep > 0 {
		parts = append(parts, fmt.Sprintf("minKeep=%d", p.MinKeep))
	}
	return strings.Join(parts, " ") + " timeZone=" + p.location().String()
}

func (p Policy) location() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// Decision is what a policy says about one backup.
type Decision struct {
	Manifest *storage.Manifest
	Keep     bool
	// Reasons lists every rule that keeps the backup, or for a dropped
	// one, why each rule passed it over. Never empty.
	Reasons []string
}

// bucketRule is a calendar rule: the newest backup per period.
type bucketRule struct {
	name   string
	period string // plural, for messages
	count  int
	key    func(t time.Time) string // period label of t, already in the policy's zone
	left   int
	last   string // label of the newest period kept so far
}

func (p Policy) bucketRules() []*bucketRule {
	rules := []*bucketRule{
		// The hour label carries the UTC offset: the hour repeated when
		// daylight saving time ends is two different hours, and a zone's
		// abbreviation may not tell them apart.
		{name: "hourly", period: "hours", count: p.Hourly, key: func(t time.Time) string { return t.Format("2006-01-02 15h -0700") }},
		{name: "daily", period: "days", count: p.Daily, key: func(t time.Time) string { return t.Format("2006-01-02") }},
		{name: "weekly", period: "weeks", count: p.Weekly, key: func(t time.Time) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%04d-W%02d", y, w)
		}},
		{name: "monthly", period: "months", count: p.Monthly, key: func(t time.Time) string { return t.Format("2006-01") }},
		{name: "yearly", period: "years", count: p.Yearly, key: func(t time.Time) string { return t.Format("2006") }},
	}
	var out []*bucketRule
	for _, r := range rules {
		if r.count > 0 {
			r.left = r.count
			out = append(out, r)
		}
	}
	return out
}

// Plan applies p to ms (any order; all of one target) and returns one
// decision per backup, newest first. Backups are ordered as storage.Compare
// orders them (creation time, then id), the order behind "latest". With the
// zero Policy every backup is kept.
func Plan(ms []*storage.Manifest, p Policy) []Decision {
	sorted := slices.Clone(ms)
	slices.SortFunc(sorted, func(a, b *storage.Manifest) int { return storage.Compare(b, a) })
	out := make([]Decision, len(sorted))
	if len(sorted) == 0 {
		return out
	}
	if p.IsZero() {
		for i, m := range sorted {
			out[i] = Decision{Manifest: m, Keep: true, Reasons: []string{"no retention rule: keep everything"}}
		}
		return out
	}
	loc := p.location()
	rules := p.bucketRules()
	newest := sorted[0].Created
	kept := 0
	for i, m := range sorted {
		t := m.Created.In(loc)
		var keep, drop []string
		if i == 0 {
			keep = append(keep, "newest backup")
		}
		if p.Last > 0 {
			if i < p.Last {
				keep = append(keep, fmt.Sprintf("last %d/%d", i+1, p.Last))
			} else {
				drop = append(drop, fmt.Sprintf("last: not among the %d newest", p.Last))
			}
		}
		for _, r := range rules {
			k := r.key(t)
			switch {
			case k == r.last:
				drop = append(drop, fmt.Sprintf("%s: a newer one is kept for %s", r.name, k))
			case r.left == 0:
				drop = append(drop, fmt.Sprintf("%s: older than the %d newest %s", r.name, r.count, r.period))
			default:
				keep = append(keep, fmt.Sprintf("%s %s (%d/%d)", r.name, k, r.count-r.left+1, r.count))
				r.left--
				r.last = k
			}
		}
		if p.Within > 0 {
			if age := newest.Sub(m.Created); age <= p.Within {
				keep = append(keep, "within "+FormatDuration(p.Within)+" of newest")
			} else {
				drop = append(drop, "within: "+FormatDuration(age)+" older than newest")
			}
		}
		if len(keep) > 0 {
			out[i] = Decision{Manifest: m, Keep: true, Reasons: keep}
			kept++
		} else {
			out[i] = Decision{Manifest: m, Reasons: drop}
		}
	}
	for i := range out {
		if kept >= p.MinKeep {
			break
		}
		if !out[i].Keep {
			out[i] = Decision{Manifest: out[i].Manifest, Keep: true, Reasons: []string{fmt.Sprintf("minKeep %d", p.MinKeep)}}
			kept++
		}
	}
	return out
}

// FormatDuration writes d with whole days as "d", as the config file
// accepts them: 36h is "1d12h", 168h "7d", 90m "1h30m".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	days := d / (24 * time.Hour)
	rest := d % (24 * time.Hour)
	s := ""
	if days > 0 {
		s = fmt.Sprintf("%dd", days)
		if rest == 0 {
			return s
		}
	}
	r := rest.String() // e.g. 1h30m0s
	if strings.HasSuffix(r, "m0s") {
		r = strings.TrimSuffix(r, "0s")
	}
	if strings.HasSuffix(r, "h0m") {
		r = strings.TrimSuffix(r, "0m")
	}
	return s + r
}
