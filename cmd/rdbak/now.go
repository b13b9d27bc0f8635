package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/render"
	"github.com/rdbak/rdbak/storage"
)

func newNowCmd(g *globals) *cobra.Command {
	a := &app.Adhoc{}
	kf := &app.KubeFlags{}
	var (
		o           app.NowOptions
		all         bool
		concurrency int
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
			if all {
				outs, err := g.cliApp(kf.Flags).BackupConfig(cmd.Context(), g.req(), a, kf, o, concurrency)
				if err != nil {
					return err
				}
				if g.structured() {
					err = g.writeResult(outs)
				} else {
					err = render.Outcomes(g.stdout, outs)
				}
				if err != nil {
					return err
				}
				return app.AllErr(outs)
			}
			prog := &backup.Progress{}
			line := &render.Line{}
			o.Progress = prog
			o.Started = func() {
				line = render.StartProgress(g.term, func() render.State {
					s := render.State{Phase: prog.Phase(), Done: prog.Raw.Load(), Total: prog.Expected.Load()}
					if s.Phase == "snapshot" {
						s.Waiting = prog.Waiting()
					}
					return s
				})
			}
			o.Stored = func(m *storage.Manifest) error {
				line.Stop()
				if g.structured() {
					return g.writeResult(m)
				}
				_, err := fmt.Fprintln(g.stdout, m.ID)
				return err
			}
			_, err := g.cliApp(kf.Flags).BackupNow(cmd.Context(), g.req(), a, kf, o)
			line.Stop()
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.Redis, "redis", "", "Redis to back up: redis://[user[:password]@]host:port (rediss:// for TLS)")
	f.StringVar(&a.PasswordFile, "password-file", "", "file holding the Redis password")
	f.StringVar(&a.Source, "source", "", "how to get the snapshot: replication (default for --redis) or file (BGSAVE, then read the dump; the default for pods, through exec)")
	f.StringVar(&a.Dir, "dir", "", "with --source file: Redis's data dir, instead of CONFIG GET dir")
	f.StringVar(&a.DBFilename, "dbfilename", "", "with --source file: the RDB file name, instead of CONFIG GET dbfilename")
	f.StringVar(&a.Codec, "compression", "", "compression codec: zstd (default), gzip or none (overrides the config file)")
	f.StringVar(&a.Level, "level", "", "compression level: zstd fastest|default|better|best, gzip fastest|default|best|1-9")
	f.DurationVar(&o.Timeout, "timeout", 0, "give up after this long, e.g. 30m (default: the target's timeout, else none)")
	f.BoolVar(&o.NoPrune, "no-prune", false, "do not apply the target's retention policy (nor collect orphans) after the backup")
	f.BoolVar(&all, "all", false, "back up every target of the config file")
	f.BoolVar(&o.SingleNode, "single-node", false, "for a Redis Cluster node: back up this node alone (a partial backup) instead of the whole cluster")
	f.IntVar(&concurrency, "concurrency", 0, "with --all: backups at once (default: the config's daemon.concurrency)")
	addEncryptFlags(cmd, &o.Encrypt)
	addKubeFlags(cmd, kf, "back up")
	g.addOutputFlag(cmd)
	return cmd
}
