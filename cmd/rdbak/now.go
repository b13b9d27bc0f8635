package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/storage"
)

func newNowCmd(g *globals) *cobra.Command {
	a := &adhoc{}
	kf := &kubeFlags{}
	var timeout time.Duration
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
machine's disk, for rdbak running beside Redis.`,
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
			ctx := cmd.Context()
			if timeout == 0 {
				timeout = t.Timeout
			}
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
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
			conn, err := connect(ctx, kf, t)
			if err != nil {
				return err
			}
			defer conn.close()
			src, client, kind := conn.source, conn.client, conn.kind

			log := g.log.With("target", t.Name)
			log.Info("backup started", "source", kind, "storage", repo.String())
			prog := &backup.Progress{}
			line := startProgress(g.stderr, g.stderrTTY, func() (string, int64, int64) {
				return prog.Phase(), prog.Raw.Load(), prog.Expected.Load()
			})
			res, err := backup.Run(ctx, src, repo, backup.Options{
				Target:      t.Name,
				Compression: comp,
				Version:     version,
				SourceKind:  kind,
				Server:      client,
				Progress:    prog,
			})
			line.Stop()
			if err != nil {
				log.Error("backup failed", "error", err.Error())
				return fmt.Errorf("backup of %s: %w", t.Name, err)
			}
			m := res.Manifest
			log.Info("backup succeeded", "backup_id", m.ID, "raw_bytes", m.Data.RawSize, "stored_bytes", m.Data.StoredSize,
				"keys", m.Keys(), "snapshot_seconds", res.Snapshot.Seconds(), "stream_seconds", res.Stream.Seconds())
			if asJSON {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(m)
			}
			_, err = fmt.Fprintln(g.stdout, m.ID)
			return err
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
	kf.add(cmd)
	g.addOutputFlag(cmd)
	return cmd
}
