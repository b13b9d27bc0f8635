package main

import (
	"context"
	"encoding/json"
	"fmt"
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
		timeout time.Duration
		noPrune bool
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
replica would (needs only network access; the ACL user needs +sync and
+replconf). --source file runs BGSAVE and reads the dump file from this
machine's disk, for rdbak running beside Redis.

After a successful backup of a config target, rdbak now does what the
daemon does after a scheduled one: it calls the target's heartbeat, applies
its retention policy (if it has one) and deletes its orphans (data of failed
backups) older than 24h; --no-prune skips the last two. That makes it the command of a
Kubernetes CronJob: rdbak now --config FILE --target NAME. It exits non-zero
when the backup, or what follows it, failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, err := g.jsonOutput()
			if err != nil {
				return err
			}
			t, url, comp, err := g.resolveTarget(a, kf)
			if err != nil {
				return err
			}
			if t, err = ef.apply(t); err != nil {
				return err
			}
			if timeout > 0 {
				tc := *t
				tc.Timeout = timeout
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
			line := startProgress(g.stderr, g.stderrTTY, func() (string, int64, int64) {
				return prog.Phase(), prog.Raw.Load(), prog.Expected.Load()
			})
			res, err := g.app(kf.flags).Backup(ctx, t, repo, comp, prog)
			line.Stop()
			if err != nil {
				return err
			}
			m := res.Manifest
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				err = enc.Encode(m)
			} else {
				_, err = fmt.Fprintln(g.stdout, m.ID)
			}
			if err != nil {
				return err
			}
			// As after a scheduled backup: heartbeat, retention, orphans.
			o := app.AfterOptions{Prune: !noPrune, Now: time.Now()}
			if g.config != "" && !noPrune {
				o.OrphanGrace = config.DefaultOrphanGrace
			}
			if err := app.AfterBackup(ctx, g.log.With("target", t.Name), repo, t, o).Err(); err != nil {
				return fmt.Errorf("backup %s of %s is stored, but what follows it failed: %w", m.ID, t.Name, err)
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
	ef.add(cmd)
	kf.add(cmd)
	g.addOutputFlag(cmd)
	return cmd
}
