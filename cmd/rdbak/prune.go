package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/storage"
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
		Long: `Apply each target's retention policy (from --config) to its backups, and
collect its orphans: data without a manifest, left by failed or killed
backups, older than --grace.

For a repository without a config file, give the policy as flags:
  rdbak prune --storage URL [--target NAME] --keep-last 7 --keep-daily 14
applies it to the --target, or to every target with backups in storage.
With --config, the --keep flags replace the file's policy.

Without --yes this is a dry run: it shows every backup with keep or drop and
the reason, and deletes nothing. With --yes it deletes what it showed as
dropped, oldest first, each manifest before its data. The newest backup is
never deleted, and never fewer than minKeep. A target without a keep rule
keeps everything.

rdbak daemon and rdbak now do the same after each successful backup.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if grace < time.Minute {
				return usagef("--grace %s is too short: a running backup could be collected; use at least 1m", grace)
			}
			ctx := cmd.Context()
			p := &pruner{g: g, yes: yes, grace: grace, repos: map[string]*storage.Repo{}}
			defer p.close()
			targets, err := p.targets(ctx, cmd, keep)
			if err != nil {
				return err
			}
			structured, _ := g.jsonOutput()
			results := []pruneResult{}
			for i := range targets {
				r, err := p.target(ctx, &targets[i])
				results = append(results, r)
				if err != nil {
					return err
				}
				if !structured {
					printPrune(g, r) // as it goes: a later target may fail
				}
			}
			if structured {
				return g.writeResult(results)
			}
			switch {
			case p.drops == 0 && p.orphans == 0:
				fmt.Fprintln(g.stdout, "nothing to delete")
			case !yes:
				fmt.Fprintf(g.stdout, "dry run: pass --yes to delete %d backups and %d orphans\n", p.drops, p.orphans)
			default:
				fmt.Fprintf(g.stdout, "deleted %d backups and %d orphans\n", p.drops, p.orphans)
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

type pruner struct {
	g              *globals
	yes            bool
	grace          time.Duration
	repos          map[string]*storage.Repo
	drops, orphans int
}

func (p *pruner) close() {
	for _, r := range p.repos {
		_ = r.Close()
	}
}

// targets returns the targets to prune: from the config file (with the
// flags' policy when given), or from the flags for an ad hoc repository.
func (p *pruner) targets(ctx context.Context, cmd *cobra.Command, keep config.Retention) ([]config.Target, error) {
	g, adhoc := p.g, keepFlagsSet(cmd)
	if g.config != "" {
		targets, err := g.configTargets()
		if err != nil {
			return nil, err
		}
		if adhoc {
			for i := range targets {
				targets[i].Retention = keep
			}
		}
		return targets, nil
	}
	if !adhoc {
		return nil, usagef("prune needs a policy: --config FILE (the targets' retention), or --storage URL with --keep-last, --keep-daily, ... flags")
	}
	if g.storage == "" {
		return nil, usagef("--storage is required with the --keep flags, e.g. --storage file:///var/backups/rdbak")
	}
	names := []string{g.target}
	if g.target == "" {
		repo, err := p.repo(ctx, g.storage)
		if err != nil {
			return nil, err
		}
		if names, err = storedTargets(ctx, repo); err != nil {
			return nil, err
		}
	} else if err := storage.ValidateTarget(g.target); err != nil {
		return nil, usagef("--target: %w", err)
	}
	targets := make([]config.Target, 0, len(names))
	for _, n := range names {
		targets = append(targets, config.Target{Name: n, Storage: g.storage, Retention: keep})
	}
	return targets, nil
}

func (p *pruner) repo(ctx context.Context, url string) (*storage.Repo, error) {
	if p.g.storage != "" {
		url = p.g.storage
	}
	if r := p.repos[url]; r != nil {
		return r, nil
	}
	r, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		return nil, err
	}
	p.repos[url] = r
	return r, nil
}

// pruneResult is prune's result for one target (-o json|yaml).
type pruneResult struct {
	Target   string          `json:"target"`
	Policy   string          `json:"policy"`
	DryRun   bool            `json:"dryRun"`
	Backups  []pruneDecision `json:"backups"`
	Orphans  []orphanResult  `json:"orphans"`
	Problems []string        `json:"problems,omitempty"`
	location *time.Location
}

type pruneDecision struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Keep    bool      `json:"keep"`
	Reasons []string  `json:"reasons"`
}

// orphanResult is an orphan as prune and gc print it.
type orphanResult struct {
	Target      string    `json:"target"`
	ID          string    `json:"id"`
	Bytes       int64     `json:"bytes"`
	Objects     int       `json:"objects"`
	LastWritten time.Time `json:"lastWritten"`
	Deleted     bool      `json:"deleted"`
}

func orphanOf(o storage.Orphan, deleted bool) orphanResult {
	return orphanResult{Target: o.Target, ID: o.ID, Bytes: o.Size, Objects: len(o.Keys), LastWritten: o.Newest.UTC(), Deleted: deleted}
}

// target decides, and with --yes carries out, the plan for one target.
func (p *pruner) target(ctx context.Context, t *config.Target) (pruneResult, error) {
	res := pruneResult{Target: t.Name, DryRun: !p.yes, Backups: []pruneDecision{}, Orphans: []orphanResult{}}
	repo, err := p.repo(ctx, t.Storage)
	if err != nil {
		return res, err
	}
	rep, err := app.Prune(ctx, repo, t, p.yes, p.grace, time.Now())
	if errors.As(err, new(usageError)) {
		return res, err // the policy did not parse
	}
	res.Policy, res.location = rep.Policy.String(), rep.Policy.Location
	for _, d := range rep.Result.Plan {
		if !d.Keep {
			p.drops++
		}
		res.Backups = append(res.Backups, pruneDecision{ID: d.Manifest.ID, Created: d.Manifest.Created, Keep: d.Keep, Reasons: d.Reasons})
	}
	for _, pr := range rep.Result.Problems {
		res.Problems = append(res.Problems, fmt.Sprintf("%s: %v", pr.Key, pr.Err))
	}
	for _, o := range rep.Orphans {
		p.orphans++
		res.Orphans = append(res.Orphans, orphanOf(o, p.yes))
	}
	return res, err
}

func printPrune(g *globals, r pruneResult) {
	out := g.stdout
	fmt.Fprintf(out, "target %s: %s\n", r.Target, r.Policy)
	for _, d := range r.Backups {
		verdict := "keep"
		if !d.Keep {
			verdict = "drop"
		}
		loc := r.location
		if loc == nil {
			loc = time.Local
		}
		local := d.Created.In(loc).Format("2006-01-02 15:04 MST")
		fmt.Fprintf(out, "  %s  %s  %-22s  %s\n", verdict, d.ID, local, strings.Join(d.Reasons, "; "))
	}
	for _, pr := range r.Problems {
		fmt.Fprintf(out, "  left alone, unreadable: %s\n", pr)
	}
	for _, o := range r.Orphans {
		verb := "would delete"
		if o.Deleted {
			verb = "deleted"
		}
		fmt.Fprintf(out, "  orphan: %s %s (%s in %d objects, last written %s)\n", verb, o.ID, humanBytes(o.Bytes), o.Objects, o.LastWritten.Format(time.RFC3339))
	}
}
