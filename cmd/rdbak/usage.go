package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// rootArgs refuses a command name rdbak does not know as a usage error
// (exit 2), with cobra's suggestions; cobra's own unknown-command error is
// a plain one.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\nhint: did you mean " + strings.Join(s, " or ") + "?"
	} else {
		msg += "\nhint: see 'rdbak --help'"
	}
	return usageError{Err: errors.New(msg)}
}

// usageArgs wraps the argument validator of cmd and of every command below
// it so that a missing or extra argument is a usage error (exit 2), as an
// unknown flag is.
func usageArgs(cmd *cobra.Command) {
	if v := cmd.Args; v != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			err := v(c, args)
			if err != nil && !errors.As(err, new(usageError)) {
				return usageError{Err: fmt.Errorf("%s: %w; see '%s --help'", c.CommandPath(), err, c.CommandPath())}
			}
			return err
		}
	}
	for _, c := range cmd.Commands() {
		usageArgs(c)
	}
}
