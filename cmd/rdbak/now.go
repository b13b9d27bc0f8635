package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/storage"
)

func newNowCmd(g *globals) *cobra.Command {
	a := &adhoc{}
	kf := &kubeFlags{}
	ef := &encryptFlags{}
	var (
		timeout     time.Duration
		noPrune     bool
		all         bool
		concurrency int
		singleNode  bool
	)
	cmd := &cobra.Command{
		Use:   "now",
		Short: "Take one backup now",
		Long: `Take one fresh backup of a Redis server and store it.

Ad hoc:      rdbak now --redis redis://host:6379 --storage file:///var/backups/rdbak
From config: rdbak now --config rdbak.yaml [--target NAME]

The password comes from the URL, --password-file, or the REDIS_PASSWORD or
REDISCLI_AUTH environment variable; it is never needed on the command line.

The default source pulls the snapshot over the replication protocol, as a
replica would (needs only network access; the ACL user needs +info +sync,
and +replconf is recommended). --source file runs BGSAVE and reads the dump
file from this machine's disk, for rdbak running beside Redis (ACL: +info
+config|get +bgsave +lastsave). README "Security" has the exact rules.

After a successful backup of a config target, rdbak now does what the
daemon does after a scheduled one: it calls the target's heartbeat, applies
its retention policy (if it has one) and deletes its orphans (data of failed
backups) older than 24h; --no-prune skips the last two. That makes it the command of a
Kubernetes CronJob: rdbak now --config FILE --target NAME. It exits 1 when
the backup failed (nothing was stored, a retry is safe) and 5 when the
backup is stored but what follows it failed (a retry would take another
backup; see the heartbeat, retention or orphan error).

A target that is a Redis Cluster node (cluster_enabled:1) is backed up as
the whole cluster: one RDB per shard, each from a healthy replica (else its
master), then one manifest over the set. It refuses while cluster_state is
not ok or a slot is migrating or importing. --single-node takes the node
alone; its manifest says the backup is partial.

--all backs up every target of the config file, --concurrency at once
(default: daemon.concurrency), each followed by what follows it, and prints
one line per target. It exits 1 if any backup failed, else 5 if what
follows one failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := g.jsonOutput()
			if err != nil {
				return err
			}
			if all {
				return g.nowAll(cmd.Context(), a, kf, timeout, noPrune, concurrency)
			}
			t, url, comp, err := g.resolveTarget(a, kf)
			if err != nil {
				return err
			}
			if t, err = ef.apply(t); err != nil {
				return err
			}
			if timeout > 0 || singleNode {
				tc := *t
				if timeout > 0 {
					tc.Timeout = timeout
				}
				tc.Cluster.SingleNode = tc.Cluster.SingleNode || singleNode
				t = &tc
			}
			ctx := cmd.Context()
			if t.Timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, t.Timeout)
				defer cancel()
			}
			repo, err := storage.Open(ctx, url, storage.Options{Create: true})
			if err != nil {
				return err
			}
			defer repo.Close()
			// Fail before a long snapshot if the storage is unreachable.
			if err := repo.Check(ctx); err != nil {
				return err
			}
			prog := &backup.Progress{}
			line := startProgress(g.term, func() progressState {
				s := progressState{Phase: prog.Phase(), Done: prog.Raw.Load(), Total: prog.Expected.Load()}
				if s.Phase == "snapshot" {
					s.Waiting = prog.Waiting()
				}
				return s
			})
			res, err := g.cliApp(kf.flags).Backup(ctx, t, repo, comp, prog)
			line.Stop()
			if err != nil {
				return err
			}
			m := res.Manifest
			if asJSON {
				err = g.writeResult(m)
			} else {
				_, err = fmt.Fprintln(g.stdout, m.ID)
			}
			if err != nil {
				return err
			}
			// As after a scheduled backup: heartbeat, retention, orphans.
			o := app.AfterOptions{Prune: !noPrune, Now: time.Now(), CallerReports: true}
			if g.config != "" && !noPrune {
				o.OrphanGrace = config.DefaultOrphanGrace
			}
			if err := app.AfterBackup(ctx, g.log.With("target", t.Name), repo, t, o).Err(); err != nil {
				return &app.AfterError{Target: t.Name, ID: m.ID, Err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.redis, "redis", "", "Redis to back up: redis://[user[:password]@]host:port (rediss:// for TLS)")
	f.StringVar(&a.passwordFile, "password-file", "", "file holding the Redis password")
	f.StringVar(&a.source, "source", "", "how to get the snapshot: replication (default for --redis) or file (BGSAVE, then read the dump; the default for pods, through exec)")
	f.StringVar(&a.dir, "dir", "", "with --source file: Redis's data dir, instead of CONFIG GET dir")
	f.StringVar(&a.dbfilename, "dbfilename", "", "with --source file: the RDB file name, instead of CONFIG GET dbfilename")
	f.StringVar(&a.codec, "compression", "", "compression codec: zstd (default), gzip or none (overrides the config file)")
	f.StringVar(&a.level, "level", "", "compression level: zstd fastest|default|better|best, gzip fastest|default|best|1-9")
	f.DurationVar(&timeout, "timeout", 0, "give up after this long, e.g. 30m (default: the target's timeout, else none)")
	f.BoolVar(&noPrune, "no-prune", false, "do not apply the target's retention policy (nor collect orphans) after the backup")
	f.BoolVar(&all, "all", false, "back up every target of the config file")
	f.BoolVar(&singleNode, "single-node", false, "for a Redis Cluster node: back up this node alone (a partial backup) instead of the whole cluster")
	f.IntVar(&concurrency, "concurrency", 0, "with --all: backups at once (default: the config's daemon.concurrency)")
	ef.add(cmd)
	kf.add(cmd, "back up")
	g.addOutputFlag(cmd)
	return cmd
}

// nowAll backs up every target of the config file and prints a summary.
func (g *globals) nowAll(ctx context.Context, a *adhoc, kf *kubeFlags, timeout time.Duration, noPrune bool, concurrency int) error {
	if g.config == "" {
		return usagef("--all backs up every target of a config file: give --config FILE")
	}
	if g.target != "" || a.redis != "" || kf.set() {
		return usagef("--all backs up every target: drop --target, --redis and the Kubernetes target flags")
	}
	f, err := g.loadConfig()
	if err != nil {
		return err
	}
	comp, err := app.Compression(f.Compression)
	if err != nil {
		return usageError{Err: err}
	}
	if comp, err = overrideCodec(comp, a); err != nil {
		return err
	}
	if concurrency <= 0 {
		concurrency = f.Daemon.Concurrency
	}
	targets := append([]config.Target(nil), f.Targets...)
	for i := range targets {
		if timeout > 0 {
			targets[i].Timeout = timeout
		}
	}
	o := app.AllOptions{Concurrency: concurrency, Storage: g.storage,
		After: app.AfterOptions{Prune: !noPrune, Now: time.Now(), CallerReports: true}}
	if !noPrune {
		o.After.OrphanGrace = config.DefaultOrphanGrace
	}
	outs := g.cliApp(kf.flags).BackupAll(ctx, targets, comp, o)
	if structured, _ := g.jsonOutput(); structured {
		if err := g.writeResult(outs); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TARGET\tRESULT\tID\tDURATION")
		ok := 0
		for _, out := range outs {
			if out.Result == app.ResultSuccess {
				ok++
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", out.Target, out.Result, orDash(out.ID), out.Duration)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%d of %d targets succeeded\n", ok, len(outs))
	}
	return app.AllErr(outs)
}
