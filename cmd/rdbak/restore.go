package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

func newRestoreCmd(g *globals) *cobra.Command {
	var (
		toFile      string
		force       bool
		skipDamaged bool
		asOf        string
		fromTarget  string
		passFile    string
		idFiles     []string
		kf          = &kubeFlags{}
		ko          kubeRestoreOpts
		ro          replayOpts
	)
	cmd := &cobra.Command{
		Use:   "restore ID|latest (--to-file PATH | --replay-to URL | --target NAME | --pod/--statefulset/--deployment [ns/]name)",
		Short: "Restore a backup, verified, into a file or into Redis running in Kubernetes",
		Long: `Restore a backup into an RDB file, or into a Redis running in Kubernetes.

--to-file PATH: the backup is downloaded, decompressed and verified
completely into a temporary file beside PATH, which is fsynced and renamed
over PATH only if every check passed. A failed or interrupted restore leaves
nothing at PATH (or the old file, with --force).

--to-file -: the RDB streams to stdout as it is read (as restic dump does),
logs go to stderr. rdbak verifies while it streams, so the bytes on stdout
are unverified until rdbak exits 0: a non-zero exit means discard them, e.g.
  rdbak restore latest ... --to-file - > dump.rdb.part && mv dump.rdb.part dump.rdb

Into Kubernetes (a config target with a kubernetes: block, or the --pod,
--statefulset, --deployment, --selector, --helm-release flags): rdbak checks
the backup against the target first (RDB version, modules, memory, disk,
replicas, Sentinel), prints the plan, asks for confirmation (or --yes),
verifies the whole backup, then
  offline (StatefulSet/Deployment with a PVC, 1 replica): scales the workload
    to 0, writes the file from a restore pod that mounts the same volume,
    scales back and waits until Ready;
  in-place (data on an emptyDir, or a bare pod): streams the file into the
    Redis container, turns every save off and makes Redis exit without
    saving so that the kubelet restarts it on the restored file.
With appendonly yes the RDB is installed as the AOF base Redis loads. The
previous data is kept as <file>.pre-restore (see deploy/runbooks/ to roll
back). Afterwards rdbak checks that Redis loaded what the backup holds.
Restoring into another target than the source works: --from-target names
the target whose backups to use.

--replay-to URL: the backup (one RDB, or a cluster backup set) is verified
completely, then replayed key by key with RESTORE key ttl payload REPLACE
ABSTTL: into a standalone Redis (each key into its db), or, when URL is a
node of a Redis Cluster, each key into the master that owns its slot,
whatever the cluster's shape. This is how a set is restored into a cluster
of another size, and how a standalone Redis migrates into a cluster. Keys
that already expired are counted, not sent; keys the target refuses are
listed and make rdbak exit 1. Existing keys of the same names are replaced;
others are left as they are. It needs --yes (or a terminal to confirm).

--as-of TIME picks the newest backup created at or before TIME instead of
an ID: RFC 3339 (2026-11-22T03:00:00Z; without a zone, local time), a date
(2026-11-22: its start, local time) or a time ago (2h, 1d, 1w).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if asOf != "" {
				return exactArgs(0, "--as-of replaces the backup ID")(cmd, args)
			}
			return exactArgs(1, "give the backup ID (see 'rdbak list') or latest")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var at time.Time
			if asOf != "" {
				var err error
				if at, err = app.ParseTime(asOf, time.Now(), time.Local); err != nil {
					return usagef("--as-of: %w", err)
				}
			}
			if ro.url != "" {
				if toFile != "" || kf.set() {
					return usagef("--replay-to replays into a Redis by URL: drop --to-file and the Kubernetes target flags")
				}
				ko.confirmInput, ko.confirmPrompt = os.Stdin, stdinIsTerminal()
				ro.passFile = passFile
				return g.restoreReplay(ctx, args, at, fromTarget, ro, ko, skipDamaged, idFiles)
			}
			if toFile != "" {
				return g.restoreToFile(ctx, args, at, fromTarget, toFile, force, skipDamaged, idFiles)
			}
			t, url, err := g.restoreTarget(kf, passFile)
			if err != nil {
				return err
			}
			asJSON, err := g.jsonOutput()
			if err != nil {
				return err
			}
			ko.asJSON = asJSON
			ko.confirmInput, ko.confirmPrompt = os.Stdin, stdinIsTerminal()
			if ko.Timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, ko.Timeout)
				defer cancel()
			}
			repo, err := storage.Open(ctx, url, storage.Options{})
			if err != nil {
				return err
			}
			defer repo.Close()
			source := fromTarget
			if source == "" {
				source = t.Name
			}
			m, err := g.pick(ctx, repo, source, args, at, skipDamaged)
			if err != nil {
				return err
			}
			if m.Data.Encrypted() {
				if ko.Identities, err = g.identities(t, idFiles); err != nil {
					return err
				}
			}
			return g.restoreKube(ctx, repo, m, t, kf, ko)
		},
	}
	f := cmd.Flags()
	f.StringVar(&toFile, "to-file", "", "write the verified RDB to this file instead of restoring into Redis; - streams it to stdout (unverified until exit 0)")
	f.BoolVar(&force, "force", false, "with --to-file: replace an existing file (only after verification)")
	f.BoolVar(&skipDamaged, "skip-damaged", false, "with latest or --as-of: if the newest backup is damaged, restore the newest usable one and name the ones skipped")
	f.StringVar(&asOf, "as-of", "", "restore the newest backup at or before this time: RFC 3339, 2026-11-22, or ago: 2h, 1d")
	f.StringVar(&fromTarget, "from-target", "", "take the backup from this target's backups (default: the target restored into)")
	f.StringVar(&passFile, "password-file", "", "file holding the Redis password of the target")
	f.StringVar(&ro.url, "replay-to", "", "replay the verified backup key by key into this Redis, or Redis Cluster (any node): redis://[user[:password]@]host:port")
	f.IntVar(&ro.batch, "replay-batch", app.DefaultReplayBatch, "with --replay-to: RESTOREs pipelined to one node at a time")
	f.BoolVar(&ko.dryRun, "dry-run", false, "print the plan and the checks, change nothing")
	f.BoolVarP(&ko.yes, "yes", "y", false, "do not ask for confirmation")
	f.StringVar(&ko.Strategy, "strategy", "auto", "auto, offline or in-place")
	f.StringVar(&ko.Image, "restore-image", envOr("RDBAK_RESTORE_IMAGE", app.DefaultImage(version)), "rdbak image for the offline strategy's restore pod (default: $RDBAK_RESTORE_IMAGE, else this build's image)")
	f.StringVar(&ko.PullPolicy, "restore-image-pull-policy", "IfNotPresent", "pull policy of the restore image")
	f.BoolVar(&ko.Overrides.AllowReplicas, "allow-replicas", false, "restore a master that has replicas or a Sentinel (they will resync from the restored data)")
	f.BoolVar(&ko.Overrides.AllowMemory, "allow-memory", false, "restore a dataset larger than maxmemory or the container's memory limit")
	f.DurationVar(&ko.Timeout, "timeout", 30*time.Minute, "give up (and put the workload back) after this long")
	addIdentityFlag(cmd, &idFiles)
	kf.add(cmd, "restore into")
	g.addOutputFlag(cmd)
	return cmd
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (g *globals) restoreToFile(ctx context.Context, args []string, at time.Time, fromTarget, toFile string, force, skipDamaged bool, idFiles []string) error {
	repo, target, err := g.openRepo(ctx, false)
	if err != nil {
		return err
	}
	defer repo.Close()
	if fromTarget != "" {
		target = fromTarget
	}
	manifest, err := g.pick(ctx, repo, target, args, at, skipDamaged)
	if err != nil {
		return err
	}
	var ids *crypt.Identities
	if manifest.Data.Encrypted() {
		if ids, err = g.identities(nil, idFiles); err != nil {
			return err
		}
	}
	var done atomic.Int64
	counter := func(n int) { done.Add(int64(n)) }
	line := startProgress(g.term, func() progressState {
		return progressState{Phase: "restore", Done: done.Load(), Total: manifest.Data.RawSize}
	})
	var rep *restore.Report
	if toFile == "-" {
		rep, err = g.restoreToStdout(ctx, repo, manifest, counter, ids)
	} else {
		rep, err = restore.ToFile(ctx, repo, manifest, toFile, restore.FileOptions{Overwrite: force, Counter: counter, Identities: ids})
	}
	line.Stop()
	log := g.log.With("target", manifest.Target, "backup_id", manifest.ID, "path", toFile)
	if err != nil {
		log.Debug("restore failed", "error", err.Error())
		return err
	}
	for _, f := range rep.StaleTemps {
		log.Info("removed a temporary file left by an interrupted restore", "file", f)
	}
	log.Info("restore succeeded", "raw_bytes", rep.RawSize, "keys", rep.RDB.KeysTotal())
	return nil
}

// restoreToStdout streams backup m to stdout, verifying as it goes: the
// bytes are only good if it returns nil.
func (g *globals) restoreToStdout(ctx context.Context, repo *storage.Repo, m *storage.Manifest, counter func(int), ids *crypt.Identities) (*restore.Report, error) {
	if g.stdoutTTY {
		return nil, usagef("--to-file -: stdout is a terminal; redirect it to a file or a pipe")
	}
	bw := bufio.NewWriterSize(g.stdout, 1<<20)
	rep, err := restore.Fetch(ctx, repo, m, bw, restore.FetchOptions{Counter: counter, Identities: ids})
	if err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("restore to stdout: %w", err)
	}
	return rep, nil
}

// restoreTarget returns the Kubernetes target to restore into and the
// storage URL, from --config/--target or the ad hoc flags.
func (g *globals) restoreTarget(kf *kubeFlags, passFile string) (*config.Target, string, error) {
	if g.config != "" {
		if kf.set() {
			return nil, "", usagef("with --config, name the target with --target; --pod/--statefulset/... are for ad hoc use")
		}
		t, url, _, err := g.resolveTarget(&adhoc{}, kf)
		if err != nil {
			return nil, "", err
		}
		if t.Kubernetes == nil {
			return nil, "", usagef("target %q is not in Kubernetes: restore it with --to-file PATH", t.Name)
		}
		return t, url, nil
	}
	if !kf.set() {
		return nil, "", usagef("say where to restore: --to-file PATH, or a Kubernetes target (--config with --target, or --pod/--statefulset/--deployment [ns/]name)")
	}
	t, url, _, err := g.adhocKube(&adhoc{passwordFile: passFile}, kf)
	return t, url, err
}
