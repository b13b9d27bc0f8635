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
			repo, target, err := g.req().OpenRepo(ctx, false)
			if err != nil {
				return err
			}
			defer repo.Close()
			found := []render.GCResult{}
			n, waiting := 0, 0
			err = app.GC(ctx, repo, target, grace, time.Now(), yes, func(l app.Leftover) {
				r := render.Leftover(l)
				found = append(found, r)
				if r.Action == "not yet" {
					waiting++
				} else {
					n++
				}
				if !g.structured() {
					fmt.Fprintln(g.stdout, r.Line())
				}
			})
			switch {
			case err != nil:
				return err
			case g.structured():
				return g.writeResult(found)
			case n == 0 && waiting == 0:
				fmt.Fprintln(g.stdout, "no garbage")
			case n == 0:
				fmt.Fprintf(g.stdout, "nothing collectable yet: %d within the %s grace (a running backup, or a failed one to collect later)\n", waiting, grace)
			case !yes:
				fmt.Fprintln(g.stdout, "dry run: pass --yes to delete")
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 24*time.Hour, "collect only what is older than this; 0s also collects a backup running right now (see above)")
	cmd.Flags().BoolVar(&yes, "yes", false, "delete (without it, only show what would be deleted)")
	cli.AddOutputFlag(cmd, &g.output)
	return cmd
}
