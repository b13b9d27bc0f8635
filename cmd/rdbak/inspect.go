package main

import (
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
	"github.com/rdbak/rdbak/internal/render"
	"github.com/rdbak/rdbak/restore"
)

func newInspectCmd(g *globals) *cobra.Command {
	var top int
	cmd := &cobra.Command{
		Use:   "inspect FILE|-",
		Short: "Check a local RDB file and summarise it (version, AUX fields, keys, types, largest keys)",
		Long:  longHelp("inspect"),
		Args:  cli.ExactArgs(1, "give the RDB file, or - for stdin"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := app.Inspect(args[0], os.Stdin, top)
			if err != nil && !errors.Is(err, restore.ErrVerify) {
				return err
			}
			if perr := g.Print(out, func(w io.Writer) error { return render.Inspection(w, out) }); perr != nil {
				return perr
			}
			return err
		},
	}
	cmd.Flags().IntVar(&top, "top", 10, "how many of the largest keys to list")
	cli.AddOutputFlag(cmd, &g.Output)
	return cmd
}
