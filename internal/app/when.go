package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// ParseTime reads a point in time as the command line takes it (--as-of,
// --since): RFC 3339 with or without a zone (2026-11-22T03:00:00Z,
// 2026-11-22T03:00), a date (2026-11-22, the start of that day), or a time
// ago (2h, 1d, 1w, 1d12h, 90m: that long before now). Times without a zone
// are in loc.
func ParseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if d, err := ParseAgo(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-11-22T03:00:00Z, or without the zone for local time), a date (2026-11-22) or a time ago (2h, 1d, 1w)", s)
}

// ParseAgo reads a positive duration with Go's units plus d (24h) and w
// (7d), as 1d12h or 2w.
func ParseAgo(s string) (time.Duration, error) {
	var total time.Duration
	rest := s
	for rest != "" {
		i := strings.IndexAny(rest, "dw")
		if i < 0 {
			d, err := time.ParseDuration(rest)
			if err != nil {
				return 0, err
			}
			total += d
			break
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q: bad number of days or weeks", s)
		}
		unit := 24 * time.Hour
		if rest[i] == 'w' {
			unit *= 7
		}
		total += time.Duration(n) * unit
		rest = rest[i+1:]
	}
	if total <= 0 {
		return 0, fmt.Errorf("%q: give a positive duration", s)
	}
	return total, nil
}

// Newest keeps the backups created at or after since (zero: all), then the
// last n of them (n <= 0: all). ms is oldest first, as storage lists it.
func Newest(ms []*storage.Manifest, since time.Time, n int) []*storage.Manifest {
	out := make([]*storage.Manifest, 0, len(ms))
	for _, m := range ms {
		if since.IsZero() || !m.Created.Before(since) {
			out = append(out, m)
		}
	}
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}
