package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// Commit swaps the staged files in (restore.Commit).
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
	// Save persists Redis's in-memory data before it stops, so that the
	// previous data kept as .pre-restore is current; nil for none (AOF).
	Save func(ctx context.Context) error
	// Loaded waits until Redis has loaded the file and serves it: a pod
	// can be Ready while Redis still answers LOADING (a readiness probe of
	// redis-cli ping passes then), so the downtime ends here, not at Start.
	// nil: it ends at Start.
	Loaded func(ctx context.Context) error
	// Check compares what Redis loaded with the backup.
	Check func(ctx context.Context) error
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
// new (Job.Loaded).
type Timings struct {
	Steps    []Timing      `json:"steps"`
	Total    time.Duration `json:"total"`
	Downtime time.Duration `json:"downtime"`
}

// DownStep is the step of strategy s from which Redis no longer serves:
// offline stops Redis to swap the file; in-place swaps it under a running
// Redis with saves off and goes down only when Start makes it exit.
func DownStep(s Strategy) Step {
	if s == InPlace {
		return StepStart
	}
	return StepStop
}

// Apply runs a restore through r: stage the stream that Fetch writes
// (verifying it on the way) while Redis serves, save, stop, swap the file
// in, start, then check the loaded data. On any failure before the swap the
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
	step(StepStage)
	pr, pw := io.Pipe()
	fetched := make(chan error, 1)
	go func() {
		err := j.Fetch(pw)
		pw.CloseWithError(err)
		fetched <- err
	}()
	err := r.Stage(ctx, pr, j.Install)
	pr.Close() // a fetch still writing gets io.ErrClosedPipe
	ferr := <-fetched
	if err != nil || ferr != nil {
		if ferr != nil && !errors.Is(ferr, io.ErrClosedPipe) {
			err = errors.Join(ferr, err)
		}
		return nil, tm, undo(fmt.Errorf("stage the backup (the live data is unchanged): %w", err))
	}
	if j.Save != nil {
		step(StepSave)
		if err := j.Save(ctx); err != nil {
			return nil, tm, undo(fmt.Errorf("save the current data before stopping Redis (the live data is unchanged): %w", err))
		}
	}
	step(StepStop)
	if err := r.Stop(ctx); err != nil {
		return nil, tm, undo(fmt.Errorf("stop Redis (the live data is unchanged): %w", err))
	}
	step(StepInstall)
	installed, err := r.Commit(ctx, j.Install)
	if err != nil {
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
