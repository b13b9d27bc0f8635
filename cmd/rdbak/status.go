package main

import (
	"io"
	"time"

	"github.com/rdbak/rdbak/internal/cli"
	"github.com/rdbak/rdbak/internal/render"
	"github.com/spf13/cobra"
)

func newStatusCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each target's last successful backup, its age, the next run and the backups kept",
		Long:  longHelp("status"),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			out, err := g.Req().Status(cmd.Context(), now)
			if out == nil {
				return err
			}
			return g.PrintThen(out, func(w io.Writer) error { return render.Statuses(w, out, now) }, err)
		},
	}
	cli.AddOutputFlag(cmd, &g.Output)
	return cmd
}
