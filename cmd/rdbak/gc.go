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
		Long: `Find what failed or killed backups left behind: backup directories with data
but no manifest, unfinished S3 multipart uploads and Azure blobs with
uncommitted blocks only (parts that no listing shows but that are billed). Everything found is shown, with the
time at which it becomes collectable; what is older than --grace is deleted
(or aborted) only with --yes.

The grace period protects a backup that is running right now, in this or
another process: its data has no manifest yet. --grace 0s collects even such
a backup and makes it fail; use it only when no backup to this storage is
running.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if grace < 0 {
				return usagef("--grace %s is negative: give 0s or more (24h by default)", grace)
			}
			repo, target, err := g.openRepo(ctx, false)
			if err != nil {
				return err
			}
			defer repo.Close()
			now := time.Now()
			orphans, err := repo.Leftovers(ctx, grace)
			if err != nil {
				return err
			}
			uploads, err := repo.PendingUploads(ctx, grace)
			if err != nil {
				return err
			}
			type leftover struct {
				target, what string
				collectable  time.Time
				verb, done   string
				collect      func() error
			}
			var all []leftover
			for _, o := range orphans {
				all = append(all, leftover{o.Target, fmt.Sprintf("%s/%s (%s, %d objects, last written %s)", o.Target, o.ID, humanBytes(o.Size), len(o.Keys), o.Newest.UTC().Format(time.RFC3339)),
					o.Collectable, "would delete", "deleted", func() error { return repo.DeleteOrphan(ctx, o) }})
			}
			for _, u := range uploads {
				all = append(all, leftover{u.Target, fmt.Sprintf("unfinished upload %s (%s in %d parts, started %s)", u.Key, humanBytes(u.Size), u.Parts, u.Initiated.UTC().Format(time.RFC3339)),
					u.Collectable, "would abort", "aborted", func() error { return repo.AbortPending(ctx, u) }})
			}
			structured, _ := g.jsonOutput()
			found := []gcResult{}
			n, waiting := 0, 0
			for _, l := range all {
				if target != "" && l.target != target {
					continue
				}
				if now.Before(l.collectable) {
					waiting++
					found = append(found, gcResult{l.target, l.what, "not yet", l.collectable.UTC()})
					if !structured {
						fmt.Fprintf(g.stdout, "not yet %s: collectable after %s\n", l.what, l.collectable.UTC().Format(time.RFC3339))
					}
					continue
				}
				n++
				verb := l.verb
				if yes {
					if err := l.collect(); err != nil {
						return err
					}
					verb = l.done
				}
				found = append(found, gcResult{l.target, l.what, verb, l.collectable.UTC()})
				if !structured {
					fmt.Fprintf(g.stdout, "%s %s\n", verb, l.what)
				}
			}
			switch {
			case structured:
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
	g.addOutputFlag(cmd)
	return cmd
}

// gcResult is one leftover as gc -o json|yaml prints it.
type gcResult struct {
	Target      string    `json:"target"`
	What        string    `json:"what"`
	Action      string    `json:"action"` // would delete, deleted, would abort, aborted, not yet
	Collectable time.Time `json:"collectable"`
}
