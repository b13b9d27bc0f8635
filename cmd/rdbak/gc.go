package main

import (
	"fmt"
	"time"

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
		Long: `Find backup directories that have data but no manifest — left by a backup
that failed or was killed before its manifest was written — and are older
than --grace. Shows them; deletes them only with --yes. A backup still being
written is younger than the grace period and is left alone.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if grace < time.Minute {
				return usagef("--grace %s is too short: a running backup could be collected; use at least 1m", grace)
			}
			repo, target, err := g.openRepo(ctx, false)
			if err != nil {
				return err
			}
			defer repo.Close()
			orphans, err := repo.Orphans(ctx, time.Now(), grace)
			if err != nil {
				return err
			}
			structured, _ := g.jsonOutput()
			found := []orphanResult{}
			n := 0
			for _, o := range orphans {
				if target != "" && o.Target != target {
					continue
				}
				n++
				verb := "would delete"
				if yes {
					if err := repo.DeleteOrphan(ctx, o); err != nil {
						return err
					}
					verb = "deleted"
				}
				if found = append(found, orphanOf(o, yes)); structured {
					continue
				}
				fmt.Fprintf(g.stdout, "%s %s/%s (%s, %d objects, last written %s)\n", verb, o.Target, o.ID, humanBytes(o.Size), len(o.Keys), o.Newest.UTC().Format(time.RFC3339))
			}
			switch {
			case structured:
				return g.writeResult(found)
			case n == 0:
				fmt.Fprintln(g.stdout, "no garbage")
			case !yes:
				fmt.Fprintln(g.stdout, "dry run: pass --yes to delete")
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 24*time.Hour, "only collect directories whose newest object is older than this")
	cmd.Flags().BoolVar(&yes, "yes", false, "delete (without it, only show what would be deleted)")
	g.addOutputFlag(cmd)
	return cmd
}
