package main

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var (
		skipDamaged bool
		idFiles     []string
	)
	cmd := &cobra.Command{
		Use:   "verify ID|PREFIX|latest",
		Short: "Download a backup and check everything against its manifest",
		Long: `Download a backup and check it completely: stored size and SHA-256,
decompression, the RDB's structure, CRC-64, size, SHA-256 and key counts.
Exits 4 with the reason on any mismatch. Nothing is written to disk.

The backup is latest, an id, or a unique prefix of an id or of its random
suffix (as 'rdbak list' shows it). When the newest backup is damaged (its
manifest unreadable or its data missing), 'verify latest' fails with exit 4
naming it; --skip-damaged verifies the newest usable one instead and says
which it skipped.

An encrypted backup is decrypted with --identity-file (or the config's
encryption.identityFile). Without one, verify checks only the stored size
and SHA-256, exits 0, and prints STORED-OK instead of OK: the RDB, its
CRC-64 and key counts were NOT checked.`,
		Args: exactArgs(1, "give the backup ID (see 'rdbak list'), a unique prefix of it, or latest"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			repo, target, err := g.openRepo(ctx, false)
			if err != nil {
				return err
			}
			defer repo.Close()
			sel, err := resolveBackup(ctx, repo, target, args[0], time.Time{}, storage.ResolveOptions{SkipDamaged: skipDamaged})
			if err != nil {
				return err
			}
			warnSkipped(g.log, sel)
			m := sel.Manifest
			var ids *crypt.Identities
			if m.Data.Encrypted() {
				if ids, err = g.identities(nil, idFiles); err != nil {
					return err
				}
				if ids.Len() == 0 {
					return g.verifyStored(ctx, repo, m)
				}
			}
			var done atomic.Int64
			line := startProgress(g.term, func() progressState {
				return progressState{Phase: "verify", Done: done.Load(), Total: m.Data.RawSize}
			})
			start := time.Now()
			rep, err := restore.Verify(ctx, repo, m, restore.FetchOptions{Counter: func(n int) { done.Add(int64(n)) }, Identities: ids})
			line.Stop()
			log := g.log.With("target", m.Target, "backup_id", m.ID)
			if err != nil {
				log.Debug("verify failed", "error", err.Error())
				return err
			}
			log.Info("verify succeeded", "raw_bytes", rep.RawSize, "keys", rep.RDB.KeysTotal(), "seconds", time.Since(start).Seconds())
			if structured, _ := g.jsonOutput(); structured {
				return g.writeResult(verifyResult{Target: m.Target, ID: m.ID, OK: true, StoredBytes: rep.StoredSize, RawBytes: rep.RawSize,
					RDBVersion: rep.RDB.Version, Keys: rep.RDB.KeysTotal(), CRC64: m.RDB.CRC64, ChecksumVerified: m.RDB.ChecksumVerified})
			}
			_, err = fmt.Fprintf(g.stdout, "OK %s/%s: %s RDB v%d, %d keys, CRC-64 %s\n", m.Target, m.ID,
				humanBytes(rep.RawSize), rep.RDB.Version, rep.RDB.KeysTotal(), crcState(m))
			return err
		},
	}
	cmd.Flags().BoolVar(&skipDamaged, "skip-damaged", false, "with latest: if the newest backup is damaged, verify the newest usable one and name the ones skipped")
	g.addOutputFlag(cmd)
	addIdentityFlag(cmd, &idFiles)
	return cmd
}

// verifyResult is verify's -o json|yaml result; a failed verification is
// an error (exit 4), not a result.
type verifyResult struct {
	Target           string `json:"target"`
	ID               string `json:"id"`
	OK               bool   `json:"ok"`
	StoredBytes      int64  `json:"storedBytes"`
	RawBytes         int64  `json:"rawBytes"`
	RDBVersion       int    `json:"rdbVersion"`
	Keys             uint64 `json:"keys"`
	CRC64            string `json:"crc64,omitempty"`
	ChecksumVerified bool   `json:"checksumVerified"`
}

func crcState(m *storage.Manifest) string {
	if m.RDB.ChecksumVerified {
		return m.RDB.CRC64 + " verified"
	}
	return "absent (Redis had rdbchecksum no)"
}
