package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

func newImportCmd(g *globals) *cobra.Command {
	var (
		created   string
		codecName string
		level     string
		ef        = &encryptFlags{}
	)
	cmd := &cobra.Command{
		Use:   "import FILE --target NAME (--storage URL | --config FILE)",
		Short: "Bring an existing dump.rdb into the repository as a verified backup",
		Long: `Import an RDB file made outside rdbak (a manual BGSAVE and kubectl cp, an
old cron job's dump) into the repository as a backup of --target: it is
verified as every backup is (structure, CRC-64, length), compressed and
stored with a manifest whose source kind is "import", and from then on it
is listed, verified, pruned and restored like any other.

Its creation time is the RDB's own (the ctime AUX field: when Redis wrote
the snapshot), so retention and --as-of place it where it belongs; --created
overrides it (RFC 3339), for files without one. A damaged file is refused
(exit 4) before anything is written.

Example: kubectl cp prod/redis-0:/data/dump.rdb ./dump.rdb
         rdbak inspect ./dump.rdb
         rdbak import ./dump.rdb --target sessions --storage s3://backups/redis?region=eu-west-1`,
		Args: exactArgs(1, "give the RDB file to import"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			asJSON, err := g.jsonOutput()
			if err != nil {
				return err
			}
			if g.target == "" {
				return usagef("--target NAME is required: it names the backups in storage, as for rdbak now")
			}
			if err := storage.ValidateTarget(g.target); err != nil {
				return usagef("--target: %w", err)
			}
			var at time.Time
			if created != "" {
				if at, err = time.Parse(time.RFC3339, created); err != nil {
					return usagef("--created %q: use RFC 3339, e.g. 2026-11-22T03:00:00Z", created)
				}
			}
			var base config.Compression
			if g.config != "" {
				f, err := g.loadConfig()
				if err != nil {
					return err
				}
				base = f.Compression
			}
			comp, err := overrideCodec(codecOf(base), &adhoc{codec: codecName, level: level})
			if err != nil {
				return err
			}
			enc, err := g.recipients(ef)
			if err != nil {
				return err
			}
			repo, _, err := g.openRepo(ctx, true)
			if err != nil {
				return err
			}
			defer repo.Close()
			res, err := backup.Import(ctx, backup.LocalFiles{}, args[0], repo, backup.Options{
				Target: g.target, Compression: comp, Version: version, Created: at, Encrypt: enc,
			})
			log := g.log.With("target", g.target, "file", args[0])
			if err != nil {
				log.Debug("import failed", "error", err.Error()) // main prints the error
				if errors.Is(err, rdb.ErrCorrupt) || errors.Is(err, rdb.ErrUnsupportedVersion) {
					return fmt.Errorf("%w: nothing was stored: %w", restore.ErrVerify, err) // exit 4: the file is damaged
				}
				return err
			}
			m := res.Manifest
			log.Info("import succeeded", "backup_id", m.ID, "created", m.Created.UTC().Format(time.RFC3339),
				"raw_bytes", m.Data.RawSize, "stored_bytes", m.Data.StoredSize, "keys", m.Keys())
			if asJSON {
				return g.writeResult(m)
			}
			_, err = fmt.Fprintln(g.stdout, m.ID)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&created, "created", "", "the backup's creation time (RFC 3339) when the file has no ctime, or to override it")
	f.StringVar(&codecName, "compression", "", "compression codec: zstd (default), gzip or none")
	f.StringVar(&level, "level", "", "compression level")
	ef.add(cmd)
	g.addOutputFlag(cmd)
	return cmd
}

// codecOf is the config file's compression as codec settings.
func codecOf(c config.Compression) codec.Settings {
	return codec.Settings{Codec: string(c.Codec), Level: c.Level, Concurrency: c.Concurrency}
}
