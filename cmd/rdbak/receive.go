package main

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/render"
	"github.com/rdbak/rdbak/restore"
)

// newReceiveCmd is run by rdbak itself inside a restore pod: it reads the
// RDB, or the backup's compressed RDB, from stdin, checks it and installs
// it in Redis's data dir.
func newReceiveCmd(g *globals) *cobra.Command {
	var in restore.Install
	var phase string
	cmd := &cobra.Command{
		Use:    "receive",
		Short:  "Install an RDB from stdin into a Redis data dir (run by rdbak in its restore pod)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if in.Dir == "" || in.Size <= 0 || len(in.SHA256) != 64 {
				return usagef("--dir, --size and --sha256 are required")
			}
			switch phase {
			case "":
				out, err := restore.Receive(os.Stdin, in)
				if err != nil {
					return err
				}
				return render.WriteJSON(g.Stdout, out)
			case "stage":
				return restore.Stage(os.Stdin, in)
			case "commit":
				out, err := restore.Commit(in)
				if err != nil {
					return err
				}
				return render.WriteJSON(g.Stdout, out)
			case "discard":
				return restore.Discard(in)
			}
			return usagef("--phase %q: use stage, commit or discard", phase)
		},
	}
	f := cmd.Flags()
	f.StringVar(&phase, "phase", "", "stage (write and check the file beside the live data), commit (swap it in), discard (remove it); empty: stage and commit")
	f.StringVar(&in.Dir, "dir", "", "Redis's data dir")
	f.StringVar(&in.DBFilename, "dbfilename", "dump.rdb", "Redis's RDB file name")
	f.Int64Var(&in.Size, "size", 0, "expected RDB length")
	f.StringVar(&in.SHA256, "sha256", "", "expected RDB SHA-256, hex")
	f.StringVar(&in.AOF.Mode, "aof-mode", "", "appendonly yes: multipart (Redis 7+) or single")
	f.StringVar(&in.AOF.DirName, "aof-dirname", "appendonlydir", "appenddirname")
	f.StringVar(&in.AOF.FileName, "aof-filename", "appendonly.aof", "appendfilename")
	f.StringVar(&in.Codec, "codec", "", "compression of stdin (zstd, gzip), decoded before the checks; empty: the RDB itself")
	return cmd
}

// newPauseCmd keeps the restore pod alive until rdbak execs into it and
// deletes it; --for bounds its life if rdbak dies in between.
func newPauseCmd() *cobra.Command {
	var d time.Duration
	cmd := &cobra.Command{
		Use:    "pause",
		Short:  "Wait for SIGTERM or the given time (the restore pod's main process)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
			select {
			case <-sig:
			case <-time.After(d):
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&d, "for", time.Hour, "exit after this long")
	return cmd
}
