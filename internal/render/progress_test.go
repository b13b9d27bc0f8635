package render

import (
	"bytes"
	"testing"
	"time"
)

func TestProgressText(t *testing.T) {
	tests := []struct {
		name string
		s    State
		rate float64
		want string
	}{
		{"waiting", State{Phase: "snapshot", Waiting: "BGSAVE/fork"}, 0, "snapshot  waiting for Redis: BGSAVE/fork"},
		{"unknown size", State{Phase: "stream", Done: 2048, Total: -1}, 1024, "stream    2.0 KiB  1.0 KiB/s"},
		{"known size", State{Phase: "stream", Done: 1 << 20, Total: 4 << 20}, 1 << 20, "stream    1.0 MiB / 4.0 MiB (25%)  1.0 MiB/s  ETA 3s"},
		{"no rate yet", State{Phase: "verify", Done: 512, Total: 1024}, 0, "verify    512 B / 1.0 KiB (50%)"},
		{"done", State{Phase: "commit", Done: 1024, Total: 1024}, 10, "commit    1.0 KiB / 1.0 KiB (100%)  10 B/s"},
	}
	for _, tt := range tests {
		if got := Text(tt.s, tt.rate); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestRateMeter: the time before the first byte (Redis forking, the
// replication delay) is not transfer time.
func TestRateMeter(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	var m rateMeter
	steps := []struct {
		at   time.Duration
		done int64
		want float64
	}{
		{0, 0, 0},
		{5 * time.Second, 0, 0}, // waiting for Redis
		{6 * time.Second, 100, 0},
		{8 * time.Second, 2100, 1000},
	}
	for _, s := range steps {
		if got := m.rate(t0.Add(s.at), s.done); got != s.want {
			t.Errorf("at %s with %d bytes: rate %v, want %v", s.at, s.done, got, s.want)
		}
	}
}

// TestTermWriterClears: a log line written while the progress line is
// drawn starts on a cleared line.
func TestTermWriterClears(t *testing.T) {
	var buf bytes.Buffer
	tw := &Term{w: &buf}
	tw.draw("stream 1 MiB")
	tw.Write([]byte("level=INFO msg=done\n"))
	tw.clear()
	want := "\r\033[Kstream 1 MiB\r\033[Klevel=INFO msg=done\n"
	if got := buf.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
