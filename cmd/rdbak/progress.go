package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progressLine redraws one status line on a terminal: phase, bytes, rate.
type progressLine struct {
	w     io.Writer
	stop  chan struct{}
	done  sync.WaitGroup
	start time.Time
}

// startProgress redraws read()'s figures every 250ms until Stop. On a
// non-terminal it does nothing: logs tell the story there.
func startProgress(w io.Writer, tty bool, read func() (phase string, done, total int64)) *progressLine {
	p := &progressLine{w: w, stop: make(chan struct{}), start: time.Now()}
	if !tty {
		return p
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				phase, done, total := read()
				el := time.Since(p.start).Seconds()
				line := fmt.Sprintf("%-9s %s", phase, humanBytes(done))
				if total > 0 {
					line += " / " + humanBytes(total)
				}
				if el > 0 && done > 0 {
					line += fmt.Sprintf("  %s/s", humanBytes(int64(float64(done)/el)))
				}
				fmt.Fprintf(w, "\r\033[K%s", line)
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
