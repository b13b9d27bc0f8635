package schedule

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Clock is the scheduler's time source. Tests inject a fake one, so that
// no test waits for real time to pass.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// After is time.After.
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Job is one scheduled target.
type Job struct {
	Name string
	Spec Spec
	// Jitter delays each run by a random amount in [0, Jitter), and never
	// past the following due time, so runs keep their order and rate.
	Jitter time.Duration
	// First is when a new or changed job first falls due (FirstRun
	// computes it from the last success); zero: the spec's next time
	// after SetJobs.
	First time.Time
}

// FirstRun returns when a job on spec whose last success was at last
// first runs, when scheduling starts at now: the spec's next time after
// last, so that @every keeps its pace across restarts instead of
// counting from each start; or now, when there is no last success or
// that time has passed (a run was missed while nothing was scheduling).
// Counting from each start, a daemon restarted more often than its
// @every interval would never back up. The zero time for the zero Spec.
func FirstRun(spec Spec, last, now time.Time) time.Time {
	if spec.IsZero() {
		return time.Time{}
	}
	if !last.IsZero() {
		if next := spec.Next(last); next.After(now) {
			return next
		}
	}
	return now
}

// RunFunc runs the job called name. ctx is cancelled when the runs in
// flight must stop (see Scheduler.Run).
type RunFunc func(ctx context.Context, name string)

// Options tunes a Scheduler. The zero value is usable.
type Options struct {
	Clock Clock // default RealClock
	// Concurrency bounds the runs in flight over all jobs; default 1. A
	// due job waits for a slot; it is not skipped for want of one.
	Concurrency int
	// Rand returns a uniformly random duration in [0, n), n > 0; default
	// math/rand/v2.
	Rand func(n time.Duration) time.Duration
	// OnSkip is called (from the scheduling goroutine) when a job falls due
	// while its previous run is still going or waiting for a slot.
	OnSkip func(name string)
	// OnStart is called (from the run's goroutine) when a run starts, with
	// the time it was due (its jittered due time): start minus due is its
	// lateness, which waiting for a concurrency slot adds to.
	OnStart func(name string, due, start time.Time)
}

// Scheduler runs jobs on their schedules: never two runs of one job at
// once, at most Options.Concurrency runs over all jobs.
type Scheduler struct {
	o   Options
	run RunFunc
	sem chan struct{}

	mu      sync.Mutex
	jobs    map[string]*entry
	busy    map[string]bool // running, or waiting for a slot
	changed chan struct{}
}

type entry struct {
	job  Job
	base time.Time // the due time by the spec
	fire time.Time // base plus this run's jitter
}

// New returns a Scheduler without jobs; add them with SetJobs.
func New(run RunFunc, o Options) *Scheduler {
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.Rand == nil {
		o.Rand = func(n time.Duration) time.Duration { return rand.N(n) }
	}
	return &Scheduler{
		o: o, run: run, sem: make(chan struct{}, o.Concurrency),
		jobs: map[string]*entry{}, busy: map[string]bool{}, changed: make(chan struct{}, 1),
	}
}

// SetJobs replaces the job set, as on a config reload. A job whose spec
// and jitter are unchanged keeps its next run time; new and changed jobs
// first fall due at their First, with jitter. Runs in flight are not
// affected, and a removed job's run in flight finishes.
func (s *Scheduler) SetJobs(jobs []Job) {
	now := s.o.Clock.Now()
	s.mu.Lock()
	next := map[string]*entry{}
	for _, j := range jobs {
		if j.Spec.IsZero() {
			continue
		}
		if old, ok := s.jobs[j.Name]; ok && old.job.Spec.String() == j.Spec.String() && old.job.Jitter == j.Jitter {
			next[j.Name] = old
			continue
		}
		e := &entry{job: j}
		first := j.First
		if first.IsZero() {
			first = j.Spec.Next(now)
		}
		s.schedule(e, first)
		next[j.Name] = e
	}
	s.jobs = next
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// schedule sets e's next due time to base, with jitter bounded by the gap
// to the due time after it.
func (s *Scheduler) schedule(e *entry, base time.Time) {
	e.base, e.fire = base, base
	if e.job.Jitter <= 0 || base.IsZero() {
		return
	}
	bound := e.job.Jitter
	if after := e.job.Spec.Next(base); !after.IsZero() {
		bound = min(bound, after.Sub(base))
	}
	if bound > 0 {
		e.fire = base.Add(s.o.Rand(bound))
	}
}

// NextRun returns when job name runs next, and whether it is scheduled.
func (s *Scheduler) NextRun(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.jobs[name]
	if !ok {
		return time.Time{}, false
	}
	return e.fire, true
}

// due returns the jobs whose run time has come at now, sorted by name,
// moving each to its next run, and how long until the earliest next run
// (ok false when there are no jobs). Runs missed while the process was
// suspended are not caught up one by one: the next run is the first one
// after now. (Runs missed while it was stopped are made up by Job.First.)
func (s *Scheduler) due(now time.Time) (runs []dueRun, wait time.Duration, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var earliest time.Time
	for name, e := range s.jobs {
		if e.fire.IsZero() {
			continue // never due
		}
		if !e.fire.After(now) {
			runs = append(runs, dueRun{name: name, at: e.fire})
			base := e.job.Spec.Next(e.base)
			if !base.After(now) {
				base = e.job.Spec.Next(now)
			}
			s.schedule(e, base)
		}
		if earliest.IsZero() || e.fire.Before(earliest) {
			earliest = e.fire
		}
	}
	slices.SortFunc(runs, func(a, b dueRun) int { return strings.Compare(a.name, b.name) })
	if earliest.IsZero() {
		return runs, 0, false
	}
	return runs, earliest.Sub(now), true
}

// dueRun is a job whose run time has come, and when that was.
type dueRun struct {
	name string
	at   time.Time
}

// Run fires due jobs until ctx is done, then waits for the runs it started
// and returns. Runs get a context derived from work: cancel work to abort
// them (a graceful shutdown cancels ctx first and work after a deadline).
// A job still waiting for a slot when ctx is done does not start.
func (s *Scheduler) Run(ctx, work context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	// The first pass reads the jobs as they are: a change signalled before
	// Run started is already in them.
	select {
	case <-s.changed:
	default:
	}
	for {
		runs, wait, ok := s.due(s.o.Clock.Now())
		for _, r := range runs {
			s.start(ctx, work, &wg, r)
		}
		var timer <-chan time.Time
		if ok {
			timer = s.o.Clock.After(wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-timer:
		case <-s.changed:
		}
	}
}

func (s *Scheduler) start(ctx, work context.Context, wg *sync.WaitGroup, r dueRun) {
	name := r.name
	s.mu.Lock()
	if s.busy[name] {
		s.mu.Unlock()
		if s.o.OnSkip != nil {
			s.o.OnSkip(name)
		}
		return
	}
	s.busy[name] = true
	s.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.busy, name)
			s.mu.Unlock()
		}()
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return
		case <-work.Done():
			return
		}
		defer func() { <-s.sem }()
		if ctx.Err() != nil {
			return
		}
		if s.o.OnStart != nil {
			s.o.OnStart(name, r.at, s.o.Clock.Now())
		}
		s.run(work, name)
	}()
}
