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
		Use:   "validate [FILE...]",
		Short: "Check config files: syntax, unknown keys, values",
		Long:  longHelp("config_validate"),
		RunE: func(cmd *cobra.Command, files []string) error {
			if g.Config != "" && (len(files) == 0 || cmd.Flag("config").Changed) {
				files = append([]string{g.Config}, files...) // --config, or $RDBAK_CONFIG alone
			}
			if len(files) == 0 {
				return usagef("name the config files to check: rdbak config validate FILE... (or --config FILE)")
			}
			results, err := app.ValidateConfigs(files)
			return errors.Join(err, g.Print(results, func(w io.Writer) error { return render.Validated(w, g.Stderr, results) }))
		},
	}
	cli.AddOutputFlag(validate, &g.Output)
	cmd.AddCommand(validate)
	return cmd
}
