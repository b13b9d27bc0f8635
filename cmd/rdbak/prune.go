package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/render"
)

func newPruneCmd(g *globals) *cobra.Command {
	var (
		yes   bool
		grace time.Duration
		keep  config.Retention
	)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Apply the retention policies: show which backups go, delete them with --yes",
		Long:  longHelp("prune"),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if grace < time.Minute {
				return usagef("--grace %s is too short: a running backup could be collected; use at least 1m", grace)
			}
			ctx := cmd.Context()
			p := &app.Pruner{Storage: g.Storage, Delete: yes, Grace: grace, Now: time.Now()}
			defer p.Close()
			results, err := g.Req().PruneAll(ctx, p, cli.RetentionFlags(cmd, &keep), func(r app.PruneResult) {
				if !g.Structured() {
					render.Prune(g.Stdout, r) // as it goes: a later target may fail
				}
			})
			switch {
			case err != nil:
				return err
			case g.Structured():
				return g.WriteResult(results)
			}
			return render.PruneSummary(g.Stdout, p.Drops, p.Orphans, yes)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&yes, "yes", false, "delete (without it, only show the plan)")
	f.DurationVar(&grace, "grace", config.DefaultOrphanGrace, "collect orphans whose newest object is older than this")
	cli.AddRetentionFlags(cmd, &keep)
	cli.AddOutputFlag(cmd, &g.Output)
	return cmd
}
