package main

import (
	"errors"
	"io"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
	"github.com/rdbak/rdbak/internal/render"
	"github.com/spf13/cobra"
)

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with rdbak config files",
	}
	validate := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check config files: syntax, unknown keys, values",
		Long:  longHelp("config_validate"),
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, files []string) error {
			results, err := app.ValidateConfigs(files)
			return errors.Join(err, g.Print(results, func(w io.Writer) error { return render.Validated(w, g.Stderr, results) }))
		},
	}
	cli.AddOutputFlag(validate, &g.Output)
	cmd.AddCommand(validate)
	return cmd
}
