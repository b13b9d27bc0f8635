package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
	"github.com/rdbak/rdbak/internal/render"
)

func newRestoreCmd(g *globals) *cobra.Command {
	var (
		toFile      string
		force       bool
		skipDamaged bool
		thaw        bool
		asOf        string
		fromTarget  string
		passFile    string
		idFiles     []string
		kf          = &app.KubeFlags{}
		ko          kubeRestoreOpts
		ro          replayOpts
	)
	cmd := &cobra.Command{
		Use:   "restore ID|latest (--to-file PATH | --replay-to URL | --target NAME | --pod/--statefulset/--deployment [ns/]name)",
		Short: "Restore a backup, verified, into a file or into Redis running in Kubernetes",
		Long:  longHelp("restore"),
		Args: func(cmd *cobra.Command, args []string) error {
			if thaw {
				return nil // RunE says what --thaw does not take
			}
			if asOf != "" {
				return cli.ExactArgs(0, "--as-of replaces the backup ID")(cmd, args)
			}
			return cli.ExactArgs(1, "give the backup ID (see 'rdbak list') or latest")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			at, err := cli.TimeFlag("--as-of", asOf, time.Now())
			if err != nil {
				return err
			}
			ref := ""
			if len(args) > 0 {
				ref = args[0]
			}
			rr := app.RestoreRequest{Ref: ref, At: at, FromTarget: fromTarget, SkipDamaged: skipDamaged, PasswordFile: passFile, IdentityFiles: idFiles}
			ko.prompt = cli.Prompt{In: os.Stdin, Terminal: render.IsTerminal(os.Stdin), Out: g.Stderr}
			if thaw {
				if ref != "" || asOf != "" || toFile != "" || ro.url != "" {
					return usagef("--thaw only undoes a failover freeze a killed restore left: drop the backup, --as-of, --to-file and --replay-to")
				}
				done, err := g.CLIApp(kf.Flags).ThawInto(ctx, g.Req(), kf, passFile)
				if err != nil {
					return err
				}
				return render.Thawed(g.Stdout, done)
			}
			if err := cli.RestoreKind(cmd, toFile, ro.url); err != nil {
				return err
			}
			if ro.url != "" {
				if toFile != "" || kf.Set() {
					return usagef("--replay-to replays into a Redis by URL: drop --to-file and the Kubernetes target flags")
				}
				return restoreReplay(ctx, g, g.CLIApp(kf.Flags), rr, ro, ko)
			}
			if toFile != "" {
				return restoreToFile(ctx, g, g.CLIApp(kf.Flags), rr, toFile, force)
			}
			if ko.Timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, ko.Timeout)
				defer cancel()
			}
			r, err := g.CLIApp(kf.Flags).PlanRestoreInto(ctx, g.Req(), kf, rr, ko.RestoreOptions)
			if err != nil {
				return err
			}
			defer r.Close()
			return restoreKube(ctx, g, r, ko)
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
	f.BoolVar(&thaw, "thaw", false, "Sentinel set: put back the replica-priority a killed restore left at 0 (from <target>/.rdbak-freeze.json); a running restore's freeze is left alone")
	f.BoolVar(&ko.dryRun, "dry-run", false, "print the plan and the checks, change nothing")
	f.BoolVarP(&ko.yes, "yes", "y", false, "do not ask for confirmation")
	f.StringVar(&ko.Strategy, "strategy", "auto", "auto, restart, offline or in-place")
	f.StringVar(&ko.Image, "restore-image", cmp.Or(os.Getenv("RDBAK_RESTORE_IMAGE"), app.DefaultImage(version)), "rdbak image for the offline strategy's restore pod (default: $RDBAK_RESTORE_IMAGE, else this build's image)")
	f.StringVar(&ko.PullPolicy, "restore-image-pull-policy", "IfNotPresent", "pull policy of the restore image")
	cli.AddRestorePodFlags(cmd, &ko.Resources)
	f.BoolVar(&ko.Overrides.AllowReplicas, "allow-replicas", false, "restore a master that has replicas or a Sentinel (they will resync from the restored data)")
	f.BoolVar(&ko.Overrides.AllowMemory, "allow-memory", false, "restore a dataset larger than maxmemory or the container's memory limit")
	f.DurationVar(&ko.Timeout, "timeout", 30*time.Minute, "give up (and put the workload back) after this long")
	cli.AddIdentityFlag(cmd, &idFiles)
	cli.AddKubeFlags(cmd, kf, "restore into")
	cli.AddOutputFlag(cmd, &g.Output)
	return cmd
}

// restoreToFile restores with a, whose kubectl flags reach an identitySecret.
func restoreToFile(ctx context.Context, g *globals, a *app.App, rr app.RestoreRequest, toFile string, force bool) error {
	if toFile == "-" && g.StdoutTTY {
		return usagef("--to-file -: stdout is a terminal; redirect it to a file or a pipe")
	}
	prog := render.NewRDBProgress(g.Term, "restore")
	defer prog.Stop()
	return a.RestoreToFile(ctx, g.Req(), rr, toFile, g.Stdout, force, prog.Start)
}

// kubeRestoreOpts are the flags of a restore into Kubernetes.
type kubeRestoreOpts struct {
	app.RestoreOptions
	dryRun, yes bool
	prompt      cli.Prompt
}

// restoreKube carries out the planned restore r: print, confirm, run.
func restoreKube(ctx context.Context, g *globals, r *app.Restore, o kubeRestoreOpts) error {
	p := r.Plan
	refused := p.Refused()
	if o.dryRun || refused != nil {
		if err := g.Print(p, func(w io.Writer) error { return render.Plan(w, p) }); err != nil {
			return err
		}
		return refused
	}
	if !g.Structured() {
		if err := render.Plan(g.Stdout, p); err != nil {
			return err
		}
	}
	if !o.yes {
		if err := o.prompt.Confirm(p.Workload); err != nil {
			return err
		}
	}
	if err := r.Run(ctx); err != nil {
		return err
	}
	if g.Structured() {
		return g.WriteResult(p)
	}
	took := ""
	if m := p.Measured; m != nil {
		took = fmt.Sprintf(" in %s (downtime %s)", m.Total.Round(100*time.Millisecond), m.Downtime.Round(100*time.Millisecond))
	}
	_, err := fmt.Fprintf(g.Stdout, "restored %s/%s into %s%s; the previous data is kept as %s\n", p.Backup.Target, p.Backup.ID, p.Pod, took, strings.Join(p.PreRestore, ", "))
	return err
}
