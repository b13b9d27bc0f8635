package schedule

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
)

func spec(t *testing.T, s string) Spec {
	t.Helper()
	sp, err := ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestDue(t *testing.T) {
	clk := testenv.NewFakeClock(utc("2026-11-22T10:00:30Z"))
	s := New(nil, Options{Clock: clk})
	s.SetJobs([]Job{
		{Name: "a", Spec: spec(t, "@every 1m")},
		{Name: "b", Spec: spec(t, "CRON_TZ=UTC 0 * * * *")},
		{Name: "unscheduled"},
	})
	steps := []struct {
		at       string
		want     []string
		wantDue  []string // when each was due: the start's lateness is measured from it
		nextWait time.Duration
	}{
		{"2026-11-22T10:01:00Z", nil, nil, 30 * time.Second},
		{"2026-11-22T10:01:30Z", []string{"a"}, []string{"2026-11-22T10:01:30Z"}, time.Minute},
		{"2026-11-22T10:59:59Z", []string{"a"}, []string{"2026-11-22T10:02:30Z"}, time.Second}, // 57 missed runs of a are not caught up
		{"2026-11-22T11:00:00Z", []string{"b"}, []string{"2026-11-22T11:00:00Z"}, 59 * time.Second},
		{"2026-11-22T11:00:59Z", []string{"a"}, []string{"2026-11-22T11:00:59Z"}, time.Minute},
	}
	for _, st := range steps {
		runs, wait, ok := s.due(utc(st.at))
		var names, dues []string
		for _, r := range runs {
			names = append(names, r.name)
			dues = append(dues, r.at.Format(time.RFC3339))
		}
		if !slicesEqual(names, st.want) || !slicesEqual(dues, st.wantDue) || !ok || wait != st.nextWait {
			t.Errorf("due(%s) = %v due %v, wait %v, %v; want %v due %v, wait %v", st.at, names, dues, wait, ok, st.want, st.wantDue, st.nextWait)
		}
	}
	if _, ok := s.NextRun("unscheduled"); ok {
		t.Error("a job without a spec is scheduled")
	}
	if _, _, ok := New(nil, Options{Clock: clk}).due(clk.Now()); ok {
		t.Error("a scheduler without jobs has a next run")
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestJitterBounds(t *testing.T) {
	start := utc("2026-11-22T10:00:30Z")
	// A run falls in [due, due+bound), bound = min(jitter, gap to the
	// following due time): jitter never reorders runs or drops one.
	tests := []struct {
		spec   string
		jitter time.Duration
		bounds []time.Duration // the bounds of the first runs, in turn
	}{
		{"@every 1m", 5 * time.Minute, []time.Duration{time.Minute}},
		{"@every 1m", 20 * time.Second, []time.Duration{20 * time.Second}},
		{"CRON_TZ=Europe/Oslo 0 3 * * *", 10 * time.Minute, []time.Duration{10 * time.Minute}},
		{"CRON_TZ=UTC 0,1 * * * *", time.Hour, []time.Duration{59 * time.Minute, time.Minute}},
	}
	for _, tt := range tests {
		sp := spec(t, tt.spec)
		for _, pick := range []string{"min", "max", "random"} {
			o := Options{Clock: testenv.NewFakeClock(start)}
			switch pick {
			case "min":
				o.Rand = func(time.Duration) time.Duration { return 0 }
			case "max":
				o.Rand = func(n time.Duration) time.Duration { return n - 1 }
			}
			s := New(nil, o)
			e := &entry{job: Job{Name: "x", Spec: sp, Jitter: tt.jitter}}
			base := sp.Next(start)
			seen := map[bool]bool{}
			for i := range 500 {
				s.schedule(e, base)
				bound := tt.bounds[i%len(tt.bounds)]
				if e.fire.Before(base) || !e.fire.Before(base.Add(bound)) {
					t.Fatalf("%s jitter %v (%s): run at %s for due time %s, want within [due, due+%v)", tt.spec, tt.jitter, pick, e.fire, base, bound)
				}
				if pick == "max" && e.fire != base.Add(bound-1) {
					t.Fatalf("%s jitter %v: the largest delay is %v, want %v", tt.spec, tt.jitter, e.fire.Sub(base), bound-1)
				}
				seen[e.fire.Sub(base) >= bound/2] = true
				base = sp.Next(base)
			}
			if pick == "random" && len(seen) != 2 {
				t.Errorf("%s jitter %v: 500 random delays all fell in one half of their range", tt.spec, tt.jitter)
			}
		}
	}
}

// harness runs a Scheduler on a fake clock; each run reports its start and
// blocks until the test releases it.
type harness struct {
	clk     *testenv.FakeClock
	s       *Scheduler
	started chan string
	release chan struct{}
	skipped chan string

	mu         sync.Mutex
	running    int
	maxRunning int
	late       map[string]time.Duration // start minus due, by OnStart
	cancel     context.CancelFunc
	abort      context.CancelFunc
	done       chan struct{}
}

func newHarness(t *testing.T, concurrency int, jobs ...Job) *harness {
	h := &harness{
		clk:     testenv.NewFakeClock(utc("2026-11-22T10:00:00Z")),
		started: make(chan string, 100),
		release: make(chan struct{}),
		skipped: make(chan string, 100),
		done:    make(chan struct{}),
		late:    map[string]time.Duration{},
	}
	h.s = New(func(ctx context.Context, name string) {
		h.mu.Lock()
		h.running++
		h.maxRunning = max(h.maxRunning, h.running)
		h.mu.Unlock()
		h.started <- name
		select {
		case <-h.release:
		case <-ctx.Done():
		}
		h.mu.Lock()
		h.running--
		h.mu.Unlock()
	}, Options{Clock: h.clk, Concurrency: concurrency, OnSkip: func(name string) { h.skipped <- name },
		OnStart: func(name string, due, start time.Time) {
			h.mu.Lock()
			h.late[name] = start.Sub(due)
			h.mu.Unlock()
		}})
	h.s.SetJobs(jobs)
	ctx, cancel := context.WithCancel(context.Background())
	work, abort := context.WithCancel(context.Background())
	h.cancel, h.abort = cancel, abort
	go func() { h.s.Run(ctx, work); close(h.done) }()
	t.Cleanup(func() { cancel(); abort(); <-h.done })
	return h
}

func (h *harness) recv(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case name := <-ch:
		return name
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("nothing happened")
		return ""
	}
}

// idle waits until the scheduler has finished with job name's last run.
func (h *harness) idle(t *testing.T, name string) {
	t.Helper()
	for range 10000 { // a hang guard, not a timing assertion
		h.s.mu.Lock()
		busy := h.s.busy[name]
		h.s.mu.Unlock()
		if !busy {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s never finished", name)
}

func none(t *testing.T, ch chan string, what string) {
	t.Helper()
	select {
	case name := <-ch:
		t.Fatalf("unexpected %s of %s", what, name)
	default:
	}
}

func TestSkipOnOverlap(t *testing.T) {
	h := newHarness(t, 4, Job{Name: "cache", Spec: spec(t, "@every 1m")})
	if d := h.clk.NextAfter(t); d != time.Minute {
		t.Fatalf("first wait %v, want 1m", d)
	}
	h.clk.Advance(time.Minute)
	if got := h.recv(t, h.started); got != "cache" {
		t.Fatalf("started %s", got)
	}
	h.clk.NextAfter(t)
	// Due again while the first run is still going: skipped, not queued.
	h.clk.Advance(time.Minute)
	if got := h.recv(t, h.skipped); got != "cache" {
		t.Fatalf("skipped %s", got)
	}
	h.clk.NextAfter(t)
	h.clk.Advance(time.Minute)
	h.recv(t, h.skipped)
	h.clk.NextAfter(t)
	none(t, h.started, "start")
	h.release <- struct{}{}
	h.idle(t, "cache")
	h.clk.Advance(time.Minute)
	h.recv(t, h.started)
	h.clk.NextAfter(t)
	none(t, h.skipped, "skip")
}

func TestConcurrencyLimit(t *testing.T) {
	every := spec(t, "@every 1m")
	h := newHarness(t, 2, Job{Name: "a", Spec: every}, Job{Name: "b", Spec: every}, Job{Name: "c", Spec: every})
	h.clk.NextAfter(t)
	h.clk.Advance(time.Minute)
	first := map[string]bool{h.recv(t, h.started): true, h.recv(t, h.started): true}
	h.clk.NextAfter(t)
	none(t, h.started, "start beyond the limit")
	// The third waits for a slot: it is not skipped, and starts when one
	// frees up, 30s late.
	h.clk.Advance(30 * time.Second)
	h.release <- struct{}{}
	third := h.recv(t, h.started)
	if first[third] || len(first) != 2 {
		t.Fatalf("started %v, then %s; want three different jobs", first, third)
	}
	none(t, h.skipped, "skip")
	h.release <- struct{}{}
	h.release <- struct{}{}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.maxRunning != 2 {
		t.Errorf("at most %d runs at once, want 2", h.maxRunning)
	}
	for name := range first {
		if h.late[name] != 0 {
			t.Errorf("%s started %v late, want on time", name, h.late[name])
		}
	}
	if h.late[third] != 30*time.Second {
		t.Errorf("%s, which waited for a slot, started %v late; want 30s", third, h.late[third])
	}
}

func TestSetJobs(t *testing.T) {
	clk := testenv.NewFakeClock(utc("2026-11-22T10:00:00Z"))
	s := New(nil, Options{Clock: clk, Rand: func(n time.Duration) time.Duration { return n / 2 }})
	s.SetJobs([]Job{
		{Name: "same", Spec: spec(t, "@every 10m"), Jitter: time.Minute},
		{Name: "changed", Spec: spec(t, "@every 10m")},
		{Name: "removed", Spec: spec(t, "@every 10m")},
	})
	before, _ := s.NextRun("same")
	clk.Advance(3 * time.Minute)
	s.SetJobs([]Job{
		{Name: "same", Spec: spec(t, "@every 10m"), Jitter: time.Minute},
		{Name: "changed", Spec: spec(t, "@every 1h")},
		{Name: "new", Spec: spec(t, "@every 5m")},
		{Name: "overdue", Spec: spec(t, "@every 5m"), Jitter: time.Minute, First: clk.Now()},
	})
	if got, _ := s.NextRun("same"); !got.Equal(before) || !got.Equal(utc("2026-11-22T10:10:30Z")) {
		t.Errorf("unchanged job moved from %s to %s on reload", before, got)
	}
	if got, _ := s.NextRun("changed"); !got.Equal(utc("2026-11-22T11:03:00Z")) {
		t.Errorf("changed job runs at %s, want an hour after the reload", got)
	}
	if got, _ := s.NextRun("new"); !got.Equal(utc("2026-11-22T10:08:00Z")) {
		t.Errorf("new job runs at %s", got)
	}
	if got, _ := s.NextRun("overdue"); !got.Equal(utc("2026-11-22T10:03:30Z")) {
		t.Errorf("job due at once runs at %s, want now plus its jitter", got)
	}
	if _, ok := s.NextRun("removed"); ok {
		t.Error("a removed job is still scheduled")
	}
}

// TestFirstRun: after a start, a job's first run is anchored to its last
// success, or due at once when none succeeded or a run was missed.
func TestFirstRun(t *testing.T) {
	now := utc("2026-11-22T10:00:00Z")
	tests := []struct {
		name, spec, last string
		want             time.Time
	}{
		{"every, recent success", "@every 24h", "2026-11-22T06:00:00Z", utc("2026-11-23T06:00:00Z")},
		{"every, overdue", "@every 24h", "2026-11-21T09:59:59Z", now},
		{"every, due this instant", "@every 24h", "2026-11-21T10:00:00Z", now},
		{"every, never backed up", "@every 30s", "", now},
		{"cron, ran today", "CRON_TZ=UTC 0 3 * * *", "2026-11-22T03:04:00Z", utc("2026-11-23T03:00:00Z")},
		{"cron, today's run missed", "CRON_TZ=UTC 0 3 * * *", "2026-11-21T03:04:00Z", now},
		{"cron, never backed up", "CRON_TZ=UTC 0 3 * * *", "", now},
		{"no schedule", "", "2026-11-22T06:00:00Z", time.Time{}},
	}
	for _, tt := range tests {
		var sp Spec
		if tt.spec != "" {
			sp = spec(t, tt.spec)
		}
		var last time.Time
		if tt.last != "" {
			last = utc(tt.last)
		}
		if got := FirstRun(sp, last, now); !got.Equal(tt.want) {
			t.Errorf("%s: FirstRun(%q, %s) = %s, want %s", tt.name, tt.spec, tt.last, got, tt.want)
		}
	}
}

// TestRestartAnchorsToLastSuccess: on a scheduler started with First from
// FirstRun, as the daemon starts it, a job whose last success is older
// than its interval runs at once and one backed up 20s ago runs 30s after
// that backup, not 30s after the start. Restarting every 20s can no
// longer starve an @every 30s job.
func TestRestartAnchorsToLastSuccess(t *testing.T) {
	every := spec(t, "@every 30s")
	start := utc("2026-11-22T10:00:00Z") // the harness's clock
	h := newHarness(t, 2,
		Job{Name: "overdue", Spec: every, First: FirstRun(every, start.Add(-time.Minute), start)},
		Job{Name: "recent", Spec: every, First: FirstRun(every, start.Add(-20*time.Second), start)})
	if got := h.recv(t, h.started); got != "overdue" {
		t.Fatalf("started %s at once, want overdue", got)
	}
	if d := h.clk.NextAfter(t); d != 10*time.Second {
		t.Fatalf("next wait %v, want 10s: recent is due 30s after its last success", d)
	}
	none(t, h.started, "start")
	h.clk.Advance(10 * time.Second)
	if got := h.recv(t, h.started); got != "recent" {
		t.Fatalf("started %s, want recent", got)
	}
	h.release <- struct{}{}
	h.release <- struct{}{}
}

// TestReloadWhileRunning: a job that is running keeps its run when the
// config is reloaded, and overlap protection holds across the reload.
func TestReloadWhileRunning(t *testing.T) {
	job := Job{Name: "cache", Spec: spec(t, "@every 1m")}
	h := newHarness(t, 1, job)
	h.clk.NextAfter(t)
	h.clk.Advance(time.Minute)
	h.recv(t, h.started)
	h.clk.NextAfter(t)
	h.s.SetJobs([]Job{{Name: "cache", Spec: spec(t, "@every 30s")}})
	h.clk.NextAfter(t)
	h.clk.Advance(30 * time.Second)
	h.recv(t, h.skipped)
	h.release <- struct{}{}
}

func TestShutdown(t *testing.T) {
	every := spec(t, "@every 1m")
	h := newHarness(t, 1, Job{Name: "a", Spec: every}, Job{Name: "b", Spec: every})
	h.clk.NextAfter(t)
	h.clk.Advance(time.Minute)
	running := h.recv(t, h.started)
	h.clk.NextAfter(t)
	// Stop scheduling: the run in flight goes on, the one waiting for a
	// slot never starts.
	h.cancel()
	select {
	case <-h.done:
		t.Fatal("Run returned while a run was in flight")
	case name := <-h.started:
		t.Fatalf("%s started after shutdown began (%s was running)", name, running)
	default:
	}
	// Abort the run in flight: Run returns once it has.
	h.abort()
	<-h.done
	none(t, h.started, "start")
}
