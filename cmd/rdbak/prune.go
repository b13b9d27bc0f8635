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
			p := &app.Pruner{Storage: g.storage, Delete: yes, Grace: grace, Now: time.Now()}
			defer p.Close()
			targets, err := g.req().PruneTargets(ctx, p, cli.RetentionFlags(cmd, &keep))
			if err != nil {
				return err
			}
			results := []app.PruneResult{}
			for i := range targets {
				r, err := p.Target(ctx, &targets[i])
				results = append(results, r)
				if err != nil {
					return err
				}
				if !g.structured() {
					render.Prune(g.stdout, r) // as it goes: a later target may fail
				}
			}
			if g.structured() {
				return g.writeResult(results)
			}
			return render.PruneSummary(g.stdout, p.Drops, p.Orphans, yes)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&yes, "yes", false, "delete (without it, only show the plan)")
	f.DurationVar(&grace, "grace", config.DefaultOrphanGrace, "collect orphans whose newest object is older than this")
	cli.AddRetentionFlags(cmd, &keep)
	cli.AddOutputFlag(cmd, &g.output)
	return cmd
}
