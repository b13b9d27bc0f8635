// Command rdbak backs up Redis to object storage and restores it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// Exit codes, documented in the root command's help (help/rdbak.txt).
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitVerify      = 4
	exitAfter       = 5
	exitInterrupted = 130
)

// usageError marks errors in what the user typed; the application layer
// marks a bad target the same way.
type usageError = app.UsageError

func usagef(format string, a ...any) error { return usageError{Err: fmt.Errorf(format, a...)} }

func exitCode(ctx context.Context, err error) int {
	var u usageError
	switch {
	case err == nil:
		return exitOK
	case ctx.Err() != nil:
		return exitInterrupted
	case errors.As(err, new(*app.AfterError)):
		// First: the backup is stored, whatever failed after it; a retry
		// would take another one.
		return exitAfter
	case errors.As(err, &u), errors.Is(err, restore.ErrBadRequest), errors.Is(err, storage.ErrBadURL):
		return exitUsage
	case errors.Is(err, storage.ErrNotFound):
		return exitNotFound
	case errors.Is(err, restore.ErrVerify), errors.Is(err, storage.ErrDamaged), errors.Is(err, drill.ErrFailed):
		return exitVerify
	}
	return exitFailed
}

func main() {
	app.TuneProcess()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCmd()
	err := cmd.ExecuteContext(ctx)
	code := exitCode(ctx, err)
	if err != nil {
		msg := err.Error()
		if code == exitInterrupted {
			msg = "interrupted: " + msg
		}
		if errors.Is(err, backup.ErrSaveFailed) {
			msg += "\nhint: check the Redis log and free disk space in its dir; rdbak never falls back to SAVE"
		}
		fmt.Fprintln(os.Stderr, "rdbak: "+msg)
	}
	stop()
	os.Exit(code)
}
