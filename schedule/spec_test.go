package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestParseSpecNext(t *testing.T) {
	oslo := zone(t, "Europe/Oslo")
	tests := []struct {
		spec  string
		after time.Time
		want  []time.Time // the next due times, in order
	}{
		{"@every 30m", utc("2026-11-22T10:00:00Z"), []time.Time{utc("2026-11-22T10:30:00Z"), utc("2026-11-22T11:00:00Z")}},
		{"CRON_TZ=UTC @hourly", utc("2026-11-22T10:15:00Z"), []time.Time{utc("2026-11-22T11:00:00Z"), utc("2026-11-22T12:00:00Z")}},
		{"TZ=UTC 15 3 * * 1-5", utc("2026-11-20T12:00:00Z"), []time.Time{utc("2026-11-23T03:15:00Z"), utc("2026-11-24T03:15:00Z")}},
		// 03:00 in Oslo is 02:00 UTC in winter, 01:00 UTC in summer.
		{"CRON_TZ=Europe/Oslo 0 3 * * *", utc("2026-03-28T00:00:00Z"), []time.Time{utc("2026-03-28T02:00:00Z"), utc("2026-03-29T01:00:00Z")}},
		// 02:30 does not exist in Oslo on 2026-03-29: cron skips that day.
		{"CRON_TZ=Europe/Oslo 30 2 * * *", utc("2026-03-28T12:00:00Z"), []time.Time{utc("2026-03-30T00:30:00Z")}},
		{"CRON_TZ=Europe/Oslo @daily", time.Date(2026, 10, 24, 12, 0, 0, 0, oslo), []time.Time{utc("2026-10-24T22:00:00Z"), utc("2026-10-25T23:00:00Z")}},
	}
	for _, tt := range tests {
		sp, err := ParseSpec(tt.spec)
		if err != nil {
			t.Fatalf("ParseSpec(%q): %v", tt.spec, err)
		}
		at := tt.after
		for i, want := range tt.want {
			at = sp.Next(at)
			if !at.Equal(want) {
				t.Errorf("%q: run %d after %s = %s, want %s", tt.spec, i+1, tt.after, at.UTC(), want)
				break
			}
		}
	}
	if sp, _ := ParseSpec("CRON_TZ=Europe/Oslo 0 3 * * *"); sp.Location().String() != "Europe/Oslo" || sp.String() != "CRON_TZ=Europe/Oslo 0 3 * * *" {
		t.Errorf("Location() = %v, String() = %q", sp.Location(), sp.String())
	}
	if sp, _ := ParseSpec("@daily"); sp.Location() != nil {
		t.Errorf("Location() of a spec without prefix = %v, want nil", sp.Location())
	}
	if !(Spec{}).IsZero() || !(Spec{}).Next(time.Now()).IsZero() {
		t.Error("the zero Spec must be unset and never due")
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct{ spec, msg string }{
		{"", "empty spec"},
		{"* * * *", "expected exactly 5 fields"},
		{"0 3 * * * *", "expected exactly 5 fields"},
		{"61 * * * *", "above maximum"},
		{"@fortnightly", "unrecognized descriptor"},
		{"@every 0s", "at least 1s"},
		{"@every -5m", "at least 1s"},
		{"@every soon", "at least 1s"},
		{"CRON_TZ=Mars/Olympus 0 3 * * *", "unknown time zone"},
		{"CRON_TZ=Europe/Oslo", "must be followed by a spec"},
		{"TZ= 0 3 * * *", "unknown time zone"},
		{"0 0 30 2 *", "never falls due"},
	}
	for _, tt := range tests {
		_, err := ParseSpec(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseSpec(%q) = %v, want an error containing %q", tt.spec, err, tt.msg)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		36 * time.Hour: "1d12h", 7 * 24 * time.Hour: "7d", 90 * time.Minute: "1h30m",
		30 * time.Second: "30s", 24*time.Hour + 90*time.Second: "1d1m30s", 0: "0s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestMaxInterval(t *testing.T) {
	from := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) // a Friday
	for _, tc := range []struct {
		spec string
		want time.Duration
	}{
		{"@hourly", time.Hour},
		{"@every 30m", 30 * time.Minute},
		{"0 3 * * *", 24 * time.Hour},
		{"0 3 * * 1-5", 72 * time.Hour}, // Friday to Monday
		{"0 0 1 * *", 31 * 24 * time.Hour},
		{"CRON_TZ=Europe/Oslo 0 3 * * *", 24 * time.Hour},
	} {
		s, err := ParseSpec(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.MaxInterval(from); got != tc.want {
			t.Errorf("MaxInterval(%q) = %s, want %s", tc.spec, got, tc.want)
		}
	}
	if got := (Spec{}).MaxInterval(from); got != 0 {
		t.Errorf("zero Spec: %s, want 0", got)
	}
}
