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
	)
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Apply the retention policies: show which backups go, delete them with --yes",
		Long: `Apply each target's retention policy (from --config) to its backups, and
collect its orphans: data without a manifest, left by failed or killed
backups, older than --grace.

Without --yes this is a dry run: it shows every backup with keep or drop and
the reason, and deletes nothing. With --yes it deletes what it showed as
dropped, oldest first, each manifest before its data. The newest backup is
never deleted, and never fewer than minKeep. A target without a keep rule
keeps everything.

rdbak daemon and rdbak now do the same after each successful backup.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.config == "" {
				return usagef("prune needs --config: the retention policies are in the config file")
			}
			if grace < time.Minute {
				return usagef("--grace %s is too short: a running backup could be collected; use at least 1m", grace)
			}
			f, err := g.loadConfig()
			if err != nil {
				return err
			}
			targets := f.Targets
			if g.target != "" {
				t, err := f.Target(g.target)
				if err != nil {
					return usageError{Err: fmt.Errorf("config %s: %w", g.config, err)}
				}
				targets = []config.Target{*t}
			}
			p := &pruner{g: g, yes: yes, grace: grace, repos: map[string]*storage.Repo{}}
			defer p.close()
			for i := range targets {
				if err := p.target(cmd.Context(), &targets[i]); err != nil {
					return err
				}
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
	cmd.Flags().BoolVar(&yes, "yes", false, "delete (without it, only show the plan)")
	cmd.Flags().DurationVar(&grace, "grace", config.DefaultOrphanGrace, "collect orphans whose newest object is older than this")
	return cmd
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

func (p *pruner) repo(ctx context.Context, t *config.Target) (*storage.Repo, error) {
	url := t.Storage
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

// target prints, and with --yes carries out, the plan for one target.
func (p *pruner) target(ctx context.Context, t *config.Target) error {
	out := p.g.stdout
	repo, err := p.repo(ctx, t)
	if err != nil {
		return err
	}
	rep, err := app.Prune(ctx, repo, t, p.yes, p.grace, time.Now())
	if errors.As(err, new(usageError)) {
		return err // the policy did not parse
	}
	fmt.Fprintf(out, "target %s: %s\n", t.Name, rep.Policy)
	for _, d := range rep.Result.Plan {
		verdict := "keep"
		if !d.Keep {
			verdict = "drop"
			p.drops++
		}
		local := d.Manifest.Created.In(rep.Policy.Location).Format("2006-01-02 15:04 MST")
		fmt.Fprintf(out, "  %s  %s  %-22s  %s\n", verdict, d.Manifest.ID, local, strings.Join(d.Reasons, "; "))
	}
	for _, pr := range rep.Result.Problems {
		fmt.Fprintf(out, "  left alone, unreadable: %s (%v)\n", pr.Key, pr.Err)
	}
	for _, o := range rep.Orphans {
		verb := "would delete"
		if p.yes {
			verb = "deleted"
		}
		p.orphans++
		fmt.Fprintf(out, "  orphan: %s %s (%s in %d objects, last written %s)\n", verb, o.ID, humanBytes(o.Size), len(o.Keys), o.Newest.UTC().Format(time.RFC3339))
	}
	return err
}
