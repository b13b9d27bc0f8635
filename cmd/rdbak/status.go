package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/storage"
)

func newStatusCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each target's last successful backup, its age, the next run and the backups kept",
		Long: `Show, per target, the last successful backup and its age, the next run of
its schedule (from --config) and the number of backups kept. --target
limits it to one target; with only --storage, the targets are those with
backups in storage (and have no schedule).

Storage knows the successes only: a failed backup leaves no manifest. The
last failure and why are in the daemon's log, the
rdbak_backup_total{result="failure"} metric and the workload's Kubernetes
Events; alert on the age of the last success
(rdbak_backup_last_success_timestamp_seconds).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			targets, err := g.statusTargets(cmd)
			if err != nil {
				return err
			}
			repos := map[string]*storage.Repo{}
			defer func() {
				for _, r := range repos {
					_ = r.Close()
				}
			}()
			now := time.Now()
			out := []app.TargetStatus{}
			for i := range targets {
				t := &targets[i]
				url := t.Storage
				if g.storage != "" {
					url = g.storage
				}
				repo := repos[url]
				if repo == nil {
					if repo, err = storage.Open(ctx, url, storage.Options{}); err != nil {
						return err
					}
					repos[url] = repo
				}
				ms, _, err := repo.List(ctx, t.Name)
				if err != nil {
					return err
				}
				s, err := app.StatusOf(t, ms, now)
				if err != nil {
					return err
				}
				if s.LastDrill, err = app.LastDrill(ctx, repo, t.Name); err != nil {
					return err
				}
				out = append(out, s)
			}
			if structured, _ := g.jsonOutput(); structured {
				return g.writeResult(out)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TARGET\tBACKUPS\tLAST SUCCESS\tAGE\tNEXT RUN\tSCHEDULE\tLAST DRILL")
			for _, s := range out {
				last, age, next := "-", "-", "-"
				if s.LastSuccess != nil {
					last, age = s.LastSuccess.UTC().Format(time.RFC3339)+" "+s.LastBackupID, humanAge(s.Age)
				}
				if s.NextRun != nil {
					next = s.NextRun.Format(time.RFC3339) + " (in " + humanAge(s.NextRun.Sub(now)) + ")"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Target, s.Backups, last, age, next, orDash(s.Schedule), drillCell(s.LastDrill, now))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintln(g.stdout, "last failure: "+app.FailuresUnknown)
			return err
		},
	}
	g.addOutputFlag(cmd)
	return cmd
}

// statusTargets returns the targets of the config file (or --target), or
// the targets with backups in --storage.
func (g *globals) statusTargets(cmd *cobra.Command) ([]config.Target, error) {
	if g.config != "" {
		return g.configTargets()
	}
	repo, target, err := g.openRepo(cmd.Context(), false)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	names := []string{target}
	if target == "" {
		if names, err = storedTargets(cmd.Context(), repo); err != nil {
			return nil, err
		}
	}
	ts := make([]config.Target, 0, len(names))
	for _, n := range names {
		ts = append(ts, config.Target{Name: n, Storage: g.storage})
	}
	return ts, nil
}

// configTargets returns the config file's targets, or only --target.
func (g *globals) configTargets() ([]config.Target, error) {
	f, err := g.loadConfig()
	if err != nil {
		return nil, err
	}
	if g.target == "" {
		return f.Targets, nil
	}
	t, err := f.Target(g.target)
	if err != nil {
		return nil, usageError{Err: fmt.Errorf("config %s: %w", g.config, err)}
	}
	return []config.Target{*t}, nil
}

// storedTargets returns the names of the targets with backups in repo.
func storedTargets(ctx context.Context, repo *storage.Repo) ([]string, error) {
	ms, _, err := repo.List(ctx, "")
	if err != nil {
		return nil, err
	}
	return storage.Targets(ms), nil
}

// drillCell shows a last drill as "success 3h ago (ID)" or "failure ...".
func drillCell(d *app.DrillSummary, now time.Time) string {
	if d == nil {
		return "-"
	}
	return d.Result + " " + humanAge(now.Sub(d.Time)) + " ago (" + d.BackupID + ")"
}
