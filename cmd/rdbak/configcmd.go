package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/config"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with rdbak config files",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "validate FILE...",
		Short: "Check config files: syntax, unknown keys, values",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, files []string) error {
			var errs []error
			for _, f := range files {
				c, err := config.Load(f)
				if err != nil {
					errs = append(errs, err) // names the file and line
					continue
				}
				for _, w := range c.Warnings() {
					fmt.Fprintf(g.stderr, "%s: warning: %s\n", f, w)
				}
				fmt.Fprintf(g.stdout, "%s: OK (%d targets)\n", f, len(c.Targets))
			}
			if len(errs) > 0 {
				return usageError{Err: errors.Join(errs...)}
			}
			return nil
		},
	})
	return cmd
}
