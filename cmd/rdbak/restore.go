package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/restore"
)

func newRestoreCmd(g *globals) *cobra.Command {
	var (
		toFile string
		force  bool
		asOf   string
	)
	cmd := &cobra.Command{
		Use:   "restore ID|latest --to-file PATH",
		Short: "Restore a backup, verified, into a file",
		Long: `Restore a backup into an RDB file. The backup is downloaded, decompressed
and verified completely into a temporary file beside PATH, which is fsynced
and renamed over PATH only if every check passed. A failed or interrupted
restore leaves nothing at PATH (or the old file, with --force).

--as-of TIME picks the newest backup created at or before TIME (RFC 3339,
e.g. 2026-11-22T03:00:00Z) instead of an ID.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if asOf != "" {
				return exactArgs(0, "--as-of replaces the backup ID")(cmd, args)
			}
			return exactArgs(1, "give the backup ID (see 'rdbak list') or latest")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if toFile == "" {
				return usagef("--to-file PATH is required: where to write the RDB, e.g. --to-file ./dump.rdb")
			}
			repo, target, err := g.openRepo(ctx, false)
			if err != nil {
				return err
			}
			defer repo.Close()
			var at time.Time
			if asOf != "" {
				if at, err = time.Parse(time.RFC3339, asOf); err != nil {
					return usagef("--as-of %q: use RFC 3339, e.g. 2026-11-22T03:00:00Z", asOf)
				}
			}
			manifest, err := pick(ctx, repo, target, args, at)
			if err != nil {
				return err
			}
			var done int64
			line := startProgress(g.stderr, g.stderrTTY, func() (string, int64, int64) { return "restore", done, manifest.Data.RawSize })
			rep, err := restore.ToFile(ctx, repo, manifest, toFile, restore.FileOptions{Overwrite: force, Counter: func(n int) { done += int64(n) }})
			line.Stop()
			log := g.log.With("target", manifest.Target, "backup_id", manifest.ID, "path", toFile)
			if err != nil {
				log.Error("restore failed", "error", err.Error())
				return err
			}
			log.Info("restore succeeded", "raw_bytes", rep.RawSize, "keys", rep.RDB.KeysTotal())
			return nil
		},
	}
	cmd.Flags().StringVar(&toFile, "to-file", "", "write the verified RDB to this file")
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing file at --to-file (only after verification)")
	cmd.Flags().StringVar(&asOf, "as-of", "", "restore the newest backup at or before this time (RFC 3339)")
	return cmd
}
