package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
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
			var policy *config.Retention
			if keepFlagsSet(cmd) {
				policy = &keep
			}
			targets, err := g.req().PruneTargets(ctx, p, policy)
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
			switch {
			case p.Drops == 0 && p.Orphans == 0:
				fmt.Fprintln(g.stdout, "nothing to delete")
			case !yes:
				fmt.Fprintf(g.stdout, "dry run: pass --yes to delete %d backups and %d orphans\n", p.Drops, p.Orphans)
			default:
				fmt.Fprintf(g.stdout, "deleted %d backups and %d orphans\n", p.Drops, p.Orphans)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&yes, "yes", false, "delete (without it, only show the plan)")
	f.DurationVar(&grace, "grace", config.DefaultOrphanGrace, "collect orphans whose newest object is older than this")
	f.IntVar(&keep.KeepLast, "keep-last", 0, "keep the N newest backups")
	f.IntVar(&keep.KeepHourly, "keep-hourly", 0, "keep the newest backup of each of the N newest hours that have backups")
	f.IntVar(&keep.KeepDaily, "keep-daily", 0, "keep the newest backup of each of the N newest days that have backups")
	f.IntVar(&keep.KeepWeekly, "keep-weekly", 0, "keep the newest backup of each of the N newest ISO weeks that have backups")
	f.IntVar(&keep.KeepMonthly, "keep-monthly", 0, "keep the newest backup of each of the N newest months that have backups")
	f.IntVar(&keep.KeepYearly, "keep-yearly", 0, "keep the newest backup of each of the N newest years that have backups")
	f.StringVar(&keep.KeepWithin, "keep-within", "", "keep every backup within this long of the newest one, e.g. 36h, 7d")
	f.IntVar(&keep.MinKeep, "min-keep", 0, "never keep fewer than N backups")
	f.StringVar(&keep.TimeZone, "time-zone", "", "IANA time zone of the calendar rules (default: local)")
	g.addOutputFlag(cmd)
	return cmd
}

// keepFlagsSet reports whether any retention flag was given.
func keepFlagsSet(cmd *cobra.Command) bool {
	for _, n := range []string{"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly", "keep-within", "min-keep", "time-zone"} {
		if cmd.Flags().Changed(n) {
			return true
		}
	}
	return false
}
