package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/storage"
)

func newDrillCmd(g *globals) *cobra.Command {
	var (
		all     bool
		servers []string
		idFiles []string
	)
	kf := kube.NewFlags()
	cmd := &cobra.Command{
		Use:   "drill [--target NAME | --all] [ID|latest]",
		Short: "Prove a backup restores: load it into a scratch Redis and check what it holds",
		Long: `Restore a backup (latest by default) into a scratch redis-server or
valkey-server on this host, never into the target's Redis: the backup is
verified as a restore verifies it, loaded by a server of a compatible
version (from drill.servers, --redis-server and PATH; the closest to the
backup's own version), and checked once loaded: keys and expires per db
against the manifest, allowing for keys whose expire time passed since
the snapshot; keys per type against the RDB; the server's own load
counters (Redis 7.0+); then the read-only commands of the target's
drill.checks. The scratch server runs on a free loopback port in a
temporary directory with persistence off, and is killed and removed
whatever happens.

The verdict is stored beside the backup as a new drill record
(drill-<time>.json), never over an earlier one; 'rdbak describe' shows a
backup's records, 'rdbak status' the last drill of each target, 'rdbak
list --drills' the last drill of each backup. --all drills the latest
backup of every target of --config.

Exits 4 when a drill fails (the reason is printed and recorded).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("expected at most 1 argument, got %d: give the backup ID, a unique prefix of it, or latest", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := "latest"
			if len(args) == 1 {
				ref = args[0]
			}
			targets, err := g.drillTargets(all, ref)
			if err != nil {
				return err
			}
			a := g.cliApp(kf)
			var (
				recs []*drill.Record
				errs []error
			)
			for i := range targets {
				rec, err := g.drillOne(cmd.Context(), a, &targets[i], ref, servers, idFiles)
				if rec != nil {
					recs = append(recs, rec)
				}
				if err != nil {
					errs = append(errs, err)
					if cmd.Context().Err() != nil {
						break
					}
				}
			}
			if structured, _ := g.jsonOutput(); structured {
				if !all && len(recs) == 1 {
					return errors.Join(g.writeResult(recs[0]), errors.Join(errs...))
				}
				return errors.Join(g.writeResult(recs), errors.Join(errs...))
			}
			for _, r := range recs {
				if err := drillTable(g.stdout, r); err != nil {
					return err
				}
			}
			return errors.Join(errs...)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "drill the latest backup of every target of --config")
	f.StringArrayVar(&servers, "redis-server", nil, "a redis-server or valkey-server binary the drill may load the backup into, besides drill.servers and PATH; repeatable")
	addIdentityFlag(cmd, &idFiles)
	g.addOutputFlag(cmd)
	// Only to record DrillSucceeded/DrillFailed Events for targets in
	// Kubernetes: a drill never reaches their Redis.
	kfs := pflag.NewFlagSet("kubectl", pflag.ContinueOnError)
	kf.AddFlags(kfs)
	kfs.VisitAll(func(fl *pflag.Flag) { markGroup(fl, groupKubectl) })
	f.AddFlagSet(kfs)
	return cmd
}

// drillTargets returns the targets to drill: every one of the config with
// --all, the one --target (or the config's only target) names, or, with
// only --storage, a target known by name alone (found from the backup
// when --target is not given).
func (g *globals) drillTargets(all bool, ref string) ([]config.Target, error) {
	if all {
		if g.target != "" {
			return nil, usagef("give --target NAME or --all, not both")
		}
		if g.config == "" {
			return nil, usagef("--all needs --config: the targets are in the config file")
		}
		if ref != "latest" {
			return nil, usagef("--all drills each target's latest backup; to drill backup %s, give its --target", ref)
		}
		f, err := g.loadConfig()
		if err != nil {
			return nil, err
		}
		return f.Targets, nil
	}
	if g.config != "" {
		f, err := g.loadConfig()
		if err != nil {
			return nil, err
		}
		t, err := f.Target(g.target)
		if err != nil {
			return nil, usageError{Err: fmt.Errorf("config %s: %w", g.config, err)}
		}
		return []config.Target{*t}, nil
	}
	return []config.Target{{Name: g.target}}, nil
}

// drillOne drills backup ref of t (in --storage when given, else t's own).
func (g *globals) drillOne(ctx context.Context, a *app.App, t *config.Target, ref string, servers, idFiles []string) (*drill.Record, error) {
	url := t.Storage
	if g.storage != "" {
		url = g.storage
	}
	if url == "" {
		return nil, usagef("say where the backups are: --storage URL, or --config FILE [--target NAME]")
	}
	repo, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	sel, err := resolveBackup(ctx, repo, t.Name, ref, time.Time{}, storage.ResolveOptions{})
	if err != nil {
		return nil, err
	}
	m := sel.Manifest
	if t.Name == "" {
		t = &config.Target{Name: m.Target}
	}
	ids, err := app.Identities(t, idFiles)
	if err != nil {
		return nil, err
	}
	return a.Drill(ctx, repo, m, t, app.DrillOptions{Servers: servers, Identities: ids})
}

// drillTable prints one drill's verdict and its checks.
func drillTable(w io.Writer, r *drill.Record) error {
	verdict := "OK"
	if !r.OK() {
		verdict = "FAILED"
	}
	scratch := "-"
	if r.Scratch.Version != "" {
		scratch = r.Scratch.Server.String()
	}
	fmt.Fprintf(w, "%s drill of %s/%s on %s in %.1fs (record %s)\n", verdict, r.Target, r.BackupID, scratch, r.DurationSeconds, orDash(r.Name))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	for _, c := range r.Checks {
		res := "ok"
		if !c.OK {
			res = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, res, strings.ReplaceAll(c.Detail, "\n", " "))
	}
	return tw.Flush()
}
