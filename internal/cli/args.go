package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
)

func usagef(format string, a ...any) error { return app.UsageError{Err: fmt.Errorf(format, a...)} }

// RootArgs refuses a command name rdbak does not know as a usage error
// (exit 2), with cobra's suggestions; cobra's own unknown-command error is
// a plain one.
func RootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\nhint: did you mean " + strings.Join(s, " or ") + "?"
	} else {
		msg += "\nhint: see 'rdbak --help'"
	}
	return app.UsageError{Err: errors.New(msg)}
}

// UsageArgs wraps the argument validator of cmd and of every command below
// it so that a missing or extra argument is a usage error (exit 2), as an
// unknown flag is.
func UsageArgs(cmd *cobra.Command) {
	if v := cmd.Args; v != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			err := v(c, args)
			if err != nil && !errors.As(err, new(app.UsageError)) {
				return app.UsageError{Err: fmt.Errorf("%s: %w; see '%s --help'", c.CommandPath(), err, c.CommandPath())}
			}
			return err
		}
	}
	for _, c := range cmd.Commands() {
		UsageArgs(c)
	}
}

// restorePodFlags are the restore flags that only a restore into a pod
// takes.
var restorePodFlags = []string{"strategy", "restore-image", "restore-image-pull-policy", "restore-requests", "restore-limits", "allow-replicas", "allow-memory", "timeout"}

// RestoreKind refuses, as usage errors, the flags of cmd (restore) that the
// kind of restore asked for would leave unheeded: a restore to a file
// (toFile) or a replay (replayTo) takes none of a restore into a pod's, and
// only a restore to a file takes --force. --dry-run with --to-file would
// write the file.
func RestoreKind(cmd *cobra.Command, toFile, replayTo string) error {
	switch {
	case toFile == "" && cmd.Flags().Changed("force"):
		return usagef("--force replaces an existing file: it goes with --to-file")
	case replayTo != "":
		return notWith(cmd, "--replay-to replays key by key: drop %s, which only a restore into a pod takes", restorePodFlags...)
	case toFile != "":
		return notWith(cmd, "--to-file writes a file: drop %s, which only a restore into a pod takes (to check a backup without writing a file, run 'rdbak verify')",
			append(restorePodFlags, "dry-run")...)
	}
	return nil
}

// notWith is a usage error, msg with the flags for its %s, if the user set
// any of the flags names.
func notWith(cmd *cobra.Command, msg string, names ...string) error {
	var set []string
	for _, name := range names {
		if cmd.Flags().Changed(name) {
			set = append(set, "--"+name)
		}
	}
	if len(set) == 0 {
		return nil
	}
	return usagef(msg, strings.Join(set, ", "))
}

// ExactArgs is cobra.ExactArgs with a usage error that says what to give.
func ExactArgs(n int, hint string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("expected %d argument(s), got %d: %s", n, len(args), hint)
		}
		return nil
	}
}

// TimeFlag parses the value of the time flag name (app.ParseTime at now:
// RFC 3339, a date, or a time ago; local time); empty is the zero time,
// a bad value a usage error naming the flag.
func TimeFlag(name, value string, now time.Time) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	t, err := app.ParseTime(value, now, time.Local)
	if err != nil {
		return time.Time{}, usagef("%s: %w", name, err)
	}
	return t, nil
}

// MaxArgs is cobra.MaximumNArgs with a usage error that says what to give.
func MaxArgs(n int, hint string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > n {
			return usagef("expected at most %d argument, got %d: %s", n, len(args), hint)
		}
		return nil
	}
}
