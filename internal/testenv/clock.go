package testenv

import (
	"sync"
	"testing"
	"time"
)

// FakeClock is the clock of tests that schedule (schedule.Clock): it moves
// only when the test advances it, and every After call is reported, so a
// test knows when the code under test has gone back to sleep.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	set    chan time.Duration
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

// NewFakeClock returns a clock that reads now until advanced.
func NewFakeClock(now time.Time) *FakeClock {
	return &FakeClock{now: now, set: make(chan time.Duration, 1000)}
}

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives once the clock has been advanced
// by d (at once for d <= 0).
func (c *FakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	} else {
		c.timers = append(c.timers, fakeTimer{c.now.Add(d), ch})
	}
	c.mu.Unlock()
	c.set <- d
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	var left []fakeTimer
	for _, t := range c.timers {
		if t.at.After(c.now) {
			left = append(left, t)
			continue
		}
		t.ch <- c.now
	}
	c.timers = left
}

// NextAfter waits for the next After call and returns its duration.
func (c *FakeClock) NextAfter(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.set:
		return d
	case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("nobody called After on the clock")
		return 0
	}
}

// WaitFor waits until someone calls After(d), skipping other calls.
func (c *FakeClock) WaitFor(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.After(20 * time.Second) // a hang guard, not a timing assertion
	for {
		select {
		case got := <-c.set:
			if got == d {
				return
			}
		case <-deadline:
			t.Fatalf("nobody waited for %v", d)
		}
	}
}
