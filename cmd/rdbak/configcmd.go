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
	validate := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check config files: syntax, unknown keys, values",
		Long: `Check config files: syntax, unknown keys, values. Exits 2 if any file is
invalid. -o json|yaml prints one result per file (the errors are printed
on stderr all the same).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, files []string) error {
			structured := g.structured()
			var errs []error
			results := make([]validateResult, 0, len(files))
			for _, f := range files {
				r := validateResult{File: f, Warnings: []string{}}
				c, err := config.Load(f)
				if err != nil {
					errs = append(errs, err) // names the file and line
					r.Error = err.Error()
					results = append(results, r)
					continue
				}
				r.OK, r.Targets, r.Warnings = true, len(c.Targets), append(r.Warnings, c.Warnings()...)
				results = append(results, r)
				if structured {
					continue
				}
				for _, w := range r.Warnings {
					fmt.Fprintf(g.stderr, "%s: warning: %s\n", f, w)
				}
				fmt.Fprintf(g.stdout, "%s: OK (%d targets)\n", f, len(c.Targets))
			}
			if structured {
				if err := g.writeResult(results); err != nil {
					return err
				}
			}
			if len(errs) > 0 {
				return usageError{Err: errors.Join(errs...)}
			}
			return nil
		},
	}
	g.addOutputFlag(validate)
	cmd.AddCommand(validate)
	return cmd
}

// validateResult is config validate's result for one file.
type validateResult struct {
	File     string   `json:"file"`
	OK       bool     `json:"ok"`
	Targets  int      `json:"targets"`
	Warnings []string `json:"warnings"`
	Error    string   `json:"error,omitempty"`
}
