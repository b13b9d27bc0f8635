package main

import (
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
			out, err := g.req().Status(cmd.Context(), now)
			if err != nil {
				return err
			}
			if g.structured() {
				return g.writeResult(out)
			}
			return render.Statuses(g.stdout, out, now)
		},
	}
	cli.AddOutputFlag(cmd, &g.output)
	return cmd
}
