// Package render prints rdbak's results: tables and lines for people,
// JSON or YAML for scripts (the same result, with the JSON keys), and the
// progress line on a terminal. It decides nothing: the commands get their
// results from internal/app and print them here.
package render

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/storage"
	"golang.org/x/term"
)

// State is what a progress line shows: the phase, why no bytes
// flow yet (when known), and the bytes done out of Total (<= 0: unknown).
type State struct {
	Phase   string
	Waiting string
	Done    int64
	Total   int64
}

// Term is stderr on a terminal, shared by the progress line and the
// log: a log line first clears the progress line, so the two never end up
// glued on one line; the next tick redraws it.
type Term struct {
	mu    sync.Mutex
	w     io.Writer
	drawn bool
}

func (t *Term) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
	return t.w.Write(p)
}

func (t *Term) draw(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprint(t.w, "\r\033[K"+line)
	t.drawn = true
}

func (t *Term) clear() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.clearLocked()
}

func (t *Term) clearLocked() {
	if t.drawn {
		fmt.Fprint(t.w, "\r\033[K")
		t.drawn = false
	}
}

// Line redraws one status line on a terminal.
type Line struct {
	stop chan struct{}
	done sync.WaitGroup
}

// StartProgress redraws read()'s figures every 250ms on t until Stop. With
// t nil (stderr is not a terminal) it does nothing: logs tell the story
// there. read is called from another goroutine: it must read atomics.
func StartProgress(t *Term, read func() State) *Line {
	p := &Line{stop: make(chan struct{})}
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
				t.draw(Text(s, m.rate(now, s.Done)))
			}
		}
	}()
	return p
}

// BackupProgress starts the line of a backup's progress p: its phase and
// the RDB bytes read against those expected, and while Redis makes the
// snapshot, how long it has been waited for.
func BackupProgress(t *Term, p *backup.Progress) *Line {
	return StartProgress(t, func() State {
		s := State{Phase: p.Phase(), Done: p.Raw.Load(), Total: p.Expected.Load()}
		if s.Phase == "snapshot" {
			s.Waiting = p.Waiting()
		}
		return s
	})
}

// RDBProgress is the line of phase reading a backup's RDB, started once
// the backup's manifest, and so its size, is known.
type RDBProgress struct {
	term  *Term
	phase string
	line  *Line
}

// NewRDBProgress is a line of phase on t, not started yet.
func NewRDBProgress(t *Term, phase string) *RDBProgress {
	return &RDBProgress{term: t, phase: phase, line: &Line{}}
}

// Start starts the line for backup m and returns the counter of its RDB
// bytes (safe from any goroutine).
func (p *RDBProgress) Start(m *storage.Manifest) func(int) {
	var done atomic.Int64
	total := m.Data.RawSize
	p.line = StartProgress(p.term, func() State { return State{Phase: p.phase, Done: done.Load(), Total: total} })
	return func(n int) { done.Add(int64(n)) }
}

// Stop clears the line, if it was started.
func (p *RDBProgress) Stop() { p.line.Stop() }

// ReplayProgress starts the line of a replay of total keys: its phase and
// the keys sent.
func ReplayProgress(t *Term, p *app.ReplayProgress, total int64) *Line {
	return StartProgress(t, func() State {
		phase, _ := p.Phase.Load().(string)
		return State{Phase: phase, Done: p.Keys.Load(), Total: total}
	})
}

// Stop clears the line. It may be called more than once, and on a zero
// Line (one never started).
func (p *Line) Stop() {
	if p.stop == nil {
		return
	}
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

// Text is one progress line: before any byte, the reason for the
// wait; then bytes, and with a known total the percentage, and with a rate
// the ETA.
func Text(s State, rate float64) string {
	if s.Done <= 0 && s.Waiting != "" {
		return fmt.Sprintf("%-9s waiting for Redis: %s", s.Phase, s.Waiting)
	}
	line := fmt.Sprintf("%-9s %s", s.Phase, Bytes(s.Done))
	if s.Total > 0 {
		line += fmt.Sprintf(" / %s (%d%%)", Bytes(s.Total), min(100, s.Done*100/s.Total))
	}
	if rate > 0 {
		line += fmt.Sprintf("  %s/s", Bytes(int64(rate)))
		if s.Total > s.Done {
			eta := time.Duration(float64(s.Total-s.Done) / rate * float64(time.Second))
			line += "  ETA " + eta.Round(time.Second).String()
		}
	}
	return line
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// NewTerm returns the Term on w.
func NewTerm(w io.Writer) *Term { return &Term{w: w} }

// Bytes is n in binary units: 512 B, 1.5 KiB, 3.2 GiB.
func Bytes(n int64) string {
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
