package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// progressState is what a progress line shows: the phase, why no bytes
// flow yet (when known), and the bytes done out of Total (<= 0: unknown).
type progressState struct {
	Phase   string
	Waiting string
	Done    int64
	Total   int64
}

// termWriter is stderr on a terminal, shared by the progress line and the
// log: a log line first clears the progress line, so the two never end up
// glued on one line; the next tick redraws it.
type termWriter struct {
	mu    sync.Mutex
	w     io.Writer
	drawn bool
}

func (t *termWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
	return t.w.Write(p)
}

func (t *termWriter) draw(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprint(t.w, "\r\033[K"+line)
	t.drawn = true
}

func (t *termWriter) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
}

func (t *termWriter) clearLocked() {
	if t.drawn {
		fmt.Fprint(t.w, "\r\033[K")
		t.drawn = false
	}
}

// progressLine redraws one status line on a terminal.
type progressLine struct {
	stop chan struct{}
	done sync.WaitGroup
}

// startProgress redraws read()'s figures every 250ms on t until Stop. With
// t nil (stderr is not a terminal) it does nothing: logs tell the story
// there. read is called from another goroutine: it must read atomics.
func startProgress(t *termWriter, read func() progressState) *progressLine {
	p := &progressLine{stop: make(chan struct{})}
	if t == nil {
		return p
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		var m rateMeter
		for {
			select {
			case <-p.stop:
				t.clear()
				return
			case now := <-tick.C:
				s := read()
				t.draw(progressText(s, m.rate(now, s.Done)))
			}
		}
	}()
	return p
}

// Stop clears the line.
func (p *progressLine) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.done.Wait()
}

// rateMeter measures bytes per second from the first time it sees bytes
// flow, so that the wait for Redis's snapshot does not count as transfer
// time.
type rateMeter struct {
	start time.Time
	base  int64
}

// rate returns the bytes per second since bytes started to flow, 0 before.
func (m *rateMeter) rate(now time.Time, done int64) float64 {
	if done <= 0 {
		return 0
	}
	if m.start.IsZero() {
		m.start, m.base = now, done
		return 0
	}
	el := now.Sub(m.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(done-m.base) / el
}

// progressText is one progress line: before any byte, the reason for the
// wait; then bytes, and with a known total the percentage, and with a rate
// the ETA.
func progressText(s progressState, rate float64) string {
	if s.Done <= 0 && s.Waiting != "" {
		return fmt.Sprintf("%-9s waiting for Redis: %s", s.Phase, s.Waiting)
	}
	line := fmt.Sprintf("%-9s %s", s.Phase, humanBytes(s.Done))
	if s.Total > 0 {
		line += fmt.Sprintf(" / %s (%d%%)", humanBytes(s.Total), min(100, s.Done*100/s.Total))
	}
	if rate > 0 {
		line += fmt.Sprintf("  %s/s", humanBytes(int64(rate)))
		if s.Total > s.Done {
			eta := time.Duration(float64(s.Total-s.Done) / rate * float64(time.Second))
			line += "  ETA " + eta.Round(time.Second).String()
		}
	}
	return line
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
