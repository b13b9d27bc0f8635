package main

import (
	"fmt"
	"time"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
	"github.com/rdbak/rdbak/internal/render"
	"github.com/spf13/cobra"
)

func newGCCmd(g *globals) *cobra.Command {
	var (
		grace time.Duration
		yes   bool
	)
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Remove data left by failed backups (no manifest, older than a grace period)",
		Long:  longHelp("gc"),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if grace < 0 {
				return usagef("--grace %s is negative: give 0s or more (24h by default)", grace)
			}
			found := []render.GCResult{}
			err := g.Req().GC(ctx, grace, time.Now(), yes, func(l app.Leftover) {
				r := render.Leftover(l)
				found = append(found, r)
				if !g.Structured() {
					fmt.Fprintln(g.Stdout, r.Line())
				}
			})
			switch {
			case err != nil:
				return err
			case g.Structured():
				return g.WriteResult(found)
			}
			return render.GCSummary(g.Stdout, found, grace, yes)
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 24*time.Hour, "collect only what is older than this; 0s also collects a backup running right now (see above)")
	cmd.Flags().BoolVar(&yes, "yes", false, "delete (without it, only show what would be deleted)")
	cli.AddOutputFlag(cmd, &g.Output)
	return cmd
}
