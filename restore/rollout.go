package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Rollout is the Kubernetes side of a restore into a running Redis, one
// implementation per strategy (internal/kube: offline, in-place). Apply
// calls Stage, Stop, Commit, Start in that order: Redis serves the old
// data through Stage, so the downtime is what Stop, Commit and Start take.
type Rollout interface {
	// Stage receives the RDB from body beside the live data as
	// restore.Stage does (a staging pod on the Redis pod's node, or exec
	// into the Redis container) while Redis keeps running; a short or
	// altered stream must leave the live files untouched.
	Stage(ctx context.Context, body io.Reader, in Install) error
	// Stop makes sure no running Redis can write over the data dir from
	// now on, without a shutdown save: offline turns save points off and
	// scales the workload to zero; in-place turns every save off.
	Stop(ctx context.Context) error
	// Commit swaps the staged files in (restore.Commit). An error that is
	// certain nothing was swapped (the command never started) is a
	// *NotSwappedError.
	Commit(ctx context.Context, in Install) (*Installed, error)
	// Start makes Redis load the installed file: offline scales the
	// workload back; in-place makes Redis exit without saving so that the
	// kubelet restarts it. It returns once Redis is Ready.
	Start(ctx context.Context) error
	// Undo puts the workload back as it was found (replica count, save
	// points, no staging pod, no staged file) after a failure. It is safe
	// to call at any point.
	Undo(ctx context.Context) error
}

// NotSwappedError is an error of Rollout.Commit that is certain no file
// was swapped in: the live files are as they were.
type NotSwappedError struct{ Err error }

func (e *NotSwappedError) Error() string { return e.Err.Error() }
func (e *NotSwappedError) Unwrap() error { return e.Err }

// Step names one phase of Apply, for progress, errors and timings.
type Step string

// The steps of Apply, in order.
const (
	StepStage   Step = "stage"
	StepSave    Step = "save"
	StepStop    Step = "stop"
	StepInstall Step = "install"
	StepStart   Step = "start"
	StepLoad    Step = "load"
	StepCheck   Step = "check"
)

// UndoTimeout bounds the cleanup after a failure or cancellation, which
// runs on a fresh context so that Ctrl-C still brings the workload back.
const UndoTimeout = 5 * time.Minute

// Job is what Apply installs and how.
type Job struct {
	Install Install
	// Fetch writes the backup's RDB to w, verifying it on the way (sizes,
	// SHA-256, RDB CRC-64); an error means it must not be installed.
	Fetch func(w io.Writer) error
	// FetchSize is about how many bytes Fetch writes, for timing the
	// save: Install.Size (the RDB's) when zero.
	FetchSize int64
	// Save persists Redis's in-memory data before it stops, so that the
	// previous data kept as .pre-restore is current; nil for none (AOF).
	// It runs while Stage does, started SaveTakes before staging is
	// expected to end (SaveDue), and Stop waits for both.
	Save func(ctx context.Context) error
	// SaveTakes is how long Save is expected to take (Redis's last
	// BGSAVE, with a margin); negative when unknown: Save then starts
	// with the staging.
	SaveTakes time.Duration
	// Loaded waits until Redis has loaded the file and serves it: a pod
	// can be Ready while Redis still answers LOADING (a readiness probe of
	// redis-cli ping passes then), so the downtime ends here, not at Start.
	// nil: it ends at Start.
	Loaded func(ctx context.Context) error
	// Check compares what Redis loaded with the backup.
	Check func(ctx context.Context) error
	// Recover runs after Undo when the staging or the save failed, while
	// Redis still serves its own data: the staged file took space in
	// Redis's dir, and a BGSAVE that failed for lack of it (Save's, or
	// one of Redis's save points) leaves Redis refusing every write
	// (MISCONF) until a save succeeds. It is to make Redis save again,
	// now that the staged files are gone. nil for none.
	Recover func(ctx context.Context) error
	// Down is the step from which Redis no longer serves the old data
	// (DownStep).
	Down     Step
	Progress func(Step)
	// Now is the clock of the timings; time.Now when nil.
	Now func() time.Time
}

// Timing is one step's measured duration.
type Timing struct {
	Step     Step          `json:"step"`
	Duration time.Duration `json:"duration"`
}

// Timings are what a restore measured: every step, the whole run, and the
// downtime from the moment Redis stops serving the old data to serving the
// new (Job.Loaded). The save runs alongside the stage, so the steps can
// add up to more than the total.
type Timings struct {
	Steps    []Timing      `json:"steps"`
	Total    time.Duration `json:"total"`
	Downtime time.Duration `json:"downtime"`
}

// DownStep is the step of strategy s from which Redis no longer serves:
// offline stops Redis to swap the file; restart and in-place swap it under
// a running Redis with saves off and go down only when Start makes it exit.
func DownStep(s Strategy) Step {
	if s == Offline {
		return StepStop
	}
	return StepStart
}

// Apply runs a restore through r: stage the stream that Fetch writes
// (verifying it on the way) while Redis serves and saves, stop, swap the
// file in, start, then check the loaded data. On any failure before the swap the
// live data is untouched, staged files are removed and the workload is put
// back as it was; after it, the workload is still brought back up and the
// error says the restored data is in place.
func Apply(ctx context.Context, r Rollout, j Job) (*Installed, *Timings, error) {
	progress, now := j.Progress, j.Now
	if progress == nil {
		progress = func(Step) {}
	}
	if now == nil {
		now = time.Now
	}
	tm := &Timings{}
	begin := now()
	var stepStart time.Time
	var current Step
	down := false
	step := func(s Step) {
		t := now()
		if current != "" {
			tm.Steps = append(tm.Steps, Timing{current, t.Sub(stepStart)})
			if down && current != StepCheck {
				tm.Downtime += t.Sub(stepStart)
			}
		}
		if s == j.Down {
			down = true
		}
		current, stepStart = s, t
		if s != "" {
			progress(s)
		}
	}
	done := func() {
		step("")
		tm.Total = now().Sub(begin)
	}
	undo := func(err error) error {
		done()
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), UndoTimeout)
		defer cancel()
		if uerr := r.Undo(uctx); uerr != nil {
			return errors.Join(err, fmt.Errorf("put things back: %w", uerr))
		}
		return err
	}
	err := stageAndSave(ctx, r, j, tm, progress, now)
	if err != nil {
		err = undo(err)
		if j.Recover != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), UndoTimeout)
			defer cancel()
			if rerr := j.Recover(rctx); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return nil, tm, err
	}
	step(StepStop)
	if err := r.Stop(ctx); err != nil {
		return nil, tm, undo(fmt.Errorf("stop Redis (the live data is unchanged): %w", err))
	}
	step(StepInstall)
	installed, err := r.Commit(ctx, j.Install)
	if err != nil {
		if errors.As(err, new(*NotSwappedError)) {
			return nil, tm, undo(fmt.Errorf("install the staged backup (the live data is unchanged): %w", err))
		}
		return nil, tm, undo(fmt.Errorf("install the staged backup: %w", err))
	}
	step(StepStart)
	if err := r.Start(ctx); err != nil {
		return installed, tm, undo(fmt.Errorf("start Redis on the restored data (it is installed; the previous data is kept as %s): %w", PreRestoreSuffix, err))
	}
	if j.Loaded != nil {
		step(StepLoad)
		if err := j.Loaded(ctx); err != nil {
			done()
			return installed, tm, fmt.Errorf("wait for Redis to load the restored data: %w", err)
		}
	}
	if j.Check != nil {
		step(StepCheck)
		if err := j.Check(ctx); err != nil {
			done()
			return installed, tm, fmt.Errorf("check the restored data: %w", err)
		}
	}
	done()
	return installed, tm, nil
}

// savePoll is how often stageAndSave asks SaveDue whether to start the
// save.
const savePoll = 250 * time.Millisecond

// stageAndSave stages the stream that j.Fetch writes through r.Stage and,
// alongside, runs j.Save, timed by SaveDue to end with the staging: data
// written to Redis after the save is not in .pre-restore, so it should end
// as late as it can, while running it after the staging would add all its
// time to the restore. It returns once both are done; a failure of either
// cancels the other. It appends the stage's and the save's timings to tm.
func stageAndSave(ctx context.Context, r Rollout, j Job, tm *Timings, progress func(Step), now func() time.Time) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	begin := now()
	progress(StepStage)
	pr, pw := io.Pipe()
	fed := &counter{w: pw}
	fetched := make(chan error, 1)
	go func() {
		err := j.Fetch(fed)
		pw.CloseWithError(err)
		fetched <- err
	}()
	staged := make(chan error, 1)
	go func() {
		err := r.Stage(ctx, pr, j.Install)
		pr.Close() // a fetch still writing gets io.ErrClosedPipe
		if ferr := <-fetched; ferr != nil && !errors.Is(ferr, io.ErrClosedPipe) {
			err = errors.Join(ferr, err)
		}
		staged <- err
	}()

	var (
		saving          chan error // nil until the save starts
		saveBegin       time.Time
		failed          error // the first failure, which cancels the rest
		stageDone       bool
		saveDone        = j.Save == nil
		firstByte       time.Time
		firstByteStaged int64
	)
	startSave := func() {
		saving, saveBegin = make(chan error, 1), now()
		progress(StepSave)
		go func() { saving <- j.Save(ctx) }()
	}
	if !saveDone && j.SaveTakes < 0 {
		startSave()
	}
	size := j.FetchSize
	if size <= 0 {
		size = j.Install.Size
	}
	poll := time.NewTicker(savePoll)
	defer poll.Stop()
	for !stageDone || !saveDone {
		select {
		case err := <-staged:
			stageDone = true
			tm.Steps = append(tm.Steps, Timing{StepStage, now().Sub(begin)})
			switch {
			case err != nil:
				if failed == nil {
					failed = fmt.Errorf("stage the backup (the live data is unchanged): %w", err)
				}
				cancel()
				saveDone = saveDone || saving == nil
			case !saveDone && saving == nil:
				startSave()
			}
		case err := <-saving:
			saving, saveDone = nil, true
			tm.Steps = append(tm.Steps, Timing{StepSave, now().Sub(saveBegin)})
			if err != nil {
				if failed == nil {
					failed = fmt.Errorf("save the current data before stopping Redis (the live data is unchanged): %w", err)
				}
				cancel()
			}
		case <-poll.C:
			if saveDone || saving != nil {
				continue
			}
			n := fed.n.Load()
			if firstByte.IsZero() {
				if n > 0 {
					firstByte, firstByteStaged = now(), n
				}
				continue
			}
			if SaveDue(size-firstByteStaged, n-firstByteStaged, now().Sub(firstByte), j.SaveTakes) {
				startSave()
			}
		}
	}
	return failed
}

// SaveDue reports whether a save expected to take takes should start now
// to end with a staging that has taken in staged of its size bytes in
// elapsed: when the rest, at the rate so far, takes no longer than the
// save. Without a rate yet it waits.
func SaveDue(size, staged int64, elapsed, takes time.Duration) bool {
	if staged <= 0 || elapsed <= 0 {
		return false
	}
	rest := time.Duration(float64(size-staged) / float64(staged) * float64(elapsed))
	return rest <= takes
}

// counter counts the bytes written through it.
type counter struct {
	w io.Writer
	n atomic.Int64
}

func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}
