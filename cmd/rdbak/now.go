package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
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
		Long:  longHelp("now"),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all {
				outs, err := g.CLIApp(kf.Flags).BackupConfig(cmd.Context(), g.Req(), a, kf, o, concurrency)
				if err != nil {
					return err
				}
				if err := g.Print(outs, func(w io.Writer) error { return render.Outcomes(w, outs) }); err != nil {
					return err
				}
				return app.AllErr(outs)
			}
			prog := &backup.Progress{}
			line := &render.Line{}
			o.Progress = prog
			o.Started = func() {
				line = render.BackupProgress(g.Term, prog)
			}
			o.Stored = func(m *storage.Manifest) error {
				line.Stop()
				return g.Print(m, func(w io.Writer) error { _, err := fmt.Fprintln(w, m.ID); return err })
			}
			_, err := g.CLIApp(kf.Flags).BackupNow(cmd.Context(), g.Req(), a, kf, o)
			line.Stop()
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.Redis, "redis", "", "Redis to back up: redis://[user[:password]@]host:port (rediss:// for TLS)")
	f.StringVar(&a.PasswordFile, "password-file", "", "file holding the Redis password")
	f.StringVar(&a.Sentinel, "sentinel", "", "back up the Sentinel set of --master-name: its Sentinels, host:26379[,host:26379...] (rediss:// for TLS); a healthy replica is chosen")
	f.StringVar(&a.MasterName, "master-name", "", "with --sentinel: the name the Sentinels monitor the master under")
	f.StringVar(&a.SentinelPasswordFile, "sentinel-password-file", "", "with --sentinel: file holding the Sentinels' own password (default: $SENTINEL_PASSWORD)")
	f.StringVar(&a.Source, "source", "", "how to get the snapshot: replication (default for --redis) or file (BGSAVE, then read the dump; the default for pods, through exec)")
	f.StringVar(&a.Dir, "dir", "", "with --source file: Redis's data dir, instead of CONFIG GET dir")
	f.StringVar(&a.DBFilename, "dbfilename", "", "with --source file: the RDB file name, instead of CONFIG GET dbfilename")
	f.StringVar(&a.Codec, "compression", "", "compression codec: zstd (default), gzip or none (overrides the config file)")
	f.StringVar(&a.Level, "level", "", "compression level: zstd fastest|default|better|best, gzip fastest|default|best|1-9")
	f.DurationVar(&o.Timeout, "timeout", 0, "give up after this long, e.g. 30m (default: the target's timeout, else none)")
	f.BoolVar(&o.NoPrune, "no-prune", false, "do not apply the target's retention policy (nor collect orphans) after the backup")
	f.BoolVar(&all, "all", false, "back up every target of the config file")
	f.BoolVar(&o.SingleNode, "single-node", false, "for a Redis Cluster node: back up this node alone (a partial backup) instead of the whole cluster")
	cli.CountVar(f, &concurrency, "concurrency", "with --all: backups at once (default: the config's daemon.concurrency)")
	cli.AddEncryptFlags(cmd, &o.Encrypt)
	cli.AddKubeFlags(cmd, kf, "back up")
	cli.AddOutputFlag(cmd, &g.Output)
	return cmd
}
