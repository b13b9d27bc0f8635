package app

import (
	"testing"
	"time"

	"github.com/rdbak/rdbak/storage"
)

func TestParseTime(t *testing.T) {
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no time zone data")
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2026-11-22T03:00:00Z", time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC), false},
		{"2026-11-22T03:00:00+02:00", time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC), false},
		{"2026-11-22T03:00:00.5Z", time.Date(2026, 11, 22, 3, 0, 0, 5e8, time.UTC), false},
		{"2026-11-22T03:00:00", time.Date(2026, 11, 22, 3, 0, 0, 0, oslo), false},
		{"2026-11-22T03:00", time.Date(2026, 11, 22, 3, 0, 0, 0, oslo), false},
		{"2026-11-22 03:00", time.Date(2026, 11, 22, 3, 0, 0, 0, oslo), false},
		{"2026-11-22", time.Date(2026, 11, 22, 0, 0, 0, 0, oslo), false},
		{"2h", now.Add(-2 * time.Hour), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"1d", now.Add(-24 * time.Hour), false},
		{"1d12h", now.Add(-36 * time.Hour), false},
		{"2w", now.Add(-14 * 24 * time.Hour), false},
		{"yesterday", time.Time{}, true},
		{"0s", time.Time{}, true},
		{"-2h", time.Time{}, true},
		{"2026-13-01", time.Time{}, true},
		{"", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in, now, oslo)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseTime(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNewest(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	var ms []*storage.Manifest
	for i := range 5 {
		ms = append(ms, &storage.Manifest{ID: string(rune('a' + i)), Created: t0.Add(time.Duration(i) * time.Hour)})
	}
	tests := []struct {
		name  string
		since time.Time
		n     int
		want  string
	}{
		{"all", time.Time{}, 0, "abcde"},
		{"last 2", time.Time{}, 2, "de"},
		{"last more than there are", time.Time{}, 9, "abcde"},
		{"since, inclusive", t0.Add(3 * time.Hour), 0, "de"},
		{"since and last", t0.Add(time.Hour), 2, "de"},
		{"since after all", t0.Add(9 * time.Hour), 0, ""},
	}
	for _, tt := range tests {
		var got string
		for _, m := range Newest(ms, tt.since, tt.n) {
			got += m.ID
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
