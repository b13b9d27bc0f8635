package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Rollout is the Kubernetes side of a restore into a running Redis, one
// implementation per strategy (internal/kube: offline, in-place).
type Rollout interface {
	// Stop makes sure no running Redis can write over the data dir while
	// and after the file is installed: offline scales the workload to zero
	// and waits until its pods are gone; in-place turns off every save on
	// the running server.
	Stop(ctx context.Context) error
	// Install receives the RDB from body into the data dir as Receive does
	// (a restore pod, or exec into the Redis container); a short or altered
	// stream must leave the live files untouched.
	Install(ctx context.Context, body io.Reader, in Install) (*Installed, error)
	// Start makes Redis load the installed file: offline scales the
	// workload back; in-place makes Redis exit without saving so that the
	// kubelet restarts it. It returns once Redis is Ready.
	Start(ctx context.Context) error
	// Undo puts the workload back as it was found (replica count, no
	// restore pod) after a failure. It is safe to call at any point.
	Undo(ctx context.Context) error
}

// Step names one phase of Apply, for progress and errors.
type Step string

// The steps of Apply, in order.
const (
	StepStop    Step = "stop"
	StepInstall Step = "install"
	StepStart   Step = "start"
	StepCheck   Step = "check"
)

// UndoTimeout bounds the cleanup after a failure or cancellation, which
// runs on a fresh context so that Ctrl-C still brings the workload back.
const UndoTimeout = 5 * time.Minute

// Apply runs a restore through r: stop, install the stream that fetch
// writes (verifying it on the way), start, then check the loaded data. On
// any failure before the data is installed the live data is untouched and
// the workload is put back as it was; after it, the workload is still
// brought back up and the error says the restored data is in place.
func Apply(ctx context.Context, r Rollout, in Install, fetch func(w io.Writer) error, check func(ctx context.Context) error, progress func(Step)) (*Installed, error) {
	if progress == nil {
		progress = func(Step) {}
	}
	undo := func(err error) error {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), UndoTimeout)
		defer cancel()
		if uerr := r.Undo(uctx); uerr != nil {
			return errors.Join(err, fmt.Errorf("put the workload back: %w: restore its replica count by hand", uerr))
		}
		return err
	}
	progress(StepStop)
	if err := r.Stop(ctx); err != nil {
		return nil, undo(fmt.Errorf("stop Redis: %w", err))
	}
	progress(StepInstall)
	pr, pw := io.Pipe()
	fetched := make(chan error, 1)
	go func() {
		err := fetch(pw)
		pw.CloseWithError(err)
		fetched <- err
	}()
	installed, err := r.Install(ctx, pr, in)
	pr.Close() // a fetch still writing gets io.ErrClosedPipe
	ferr := <-fetched
	if err != nil || ferr != nil {
		if ferr != nil && !errors.Is(ferr, io.ErrClosedPipe) {
			err = errors.Join(ferr, err)
		}
		return nil, undo(fmt.Errorf("install the backup (the live data is unchanged): %w", err))
	}
	progress(StepStart)
	if err := r.Start(ctx); err != nil {
		return installed, undo(fmt.Errorf("start Redis on the restored data (it is installed; the previous data is kept as %s): %w", PreRestoreSuffix, err))
	}
	progress(StepCheck)
	if err := check(ctx); err != nil {
		return installed, fmt.Errorf("check the restored data: %w", err)
	}
	return installed, nil
}
