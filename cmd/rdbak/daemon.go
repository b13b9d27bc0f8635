package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // CRON_TZ= and timeZone work in images without zoneinfo

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/daemon"
	"github.com/rdbak/rdbak/internal/kube"
)

func newDaemonCmd(g *globals) *cobra.Command {
	var (
		listen         string
		reloadInterval time.Duration
	)
	kf := kube.NewFlags()
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run unattended: back up every target on its schedule, apply retention, serve metrics",
		Long: `Back up every target of --config that has a schedule (its own, or
defaults.schedule), never two backups of one target at once (a run that falls
due while the previous one still runs is skipped and counted) and at most
daemon.concurrency at a time. After each successful backup: the target's
heartbeat, its retention policy, and its orphans older than
daemon.orphanGrace. Targets with a drill schedule (drill.schedule, or
defaults.drill.schedule) have their latest backup drilled on it, as rdbak
drill does: restored into a scratch server on this host, never their own.

Serves /metrics (Prometheus), /healthz and /readyz on --listen (default
daemon.listen, else :9090). SIGHUP or a change to the config file reloads it;
a config that does not validate is refused and the running one stays.
SIGTERM stops scheduling; backups in flight get daemon.shutdownGrace to finish
and are then cancelled, leaving nothing behind. With
daemon.leaderElection.enabled, several replicas run and only the holder of
the Lease schedules.

With daemon.executor: job, each backup runs as a Kubernetes Job (rdbak now
--target NAME --no-prune in a pod built from the daemon's own: image,
environment, mounted config) and daemon.concurrency counts the running Jobs;
the daemon watches them, records the metrics and applies retention.

Example: rdbak daemon --config deploy/examples/rdbak-daemon.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.config == "" {
				return usagef("daemon needs --config: the targets and their schedules are in the config file")
			}
			if g.target != "" || g.storage != "" {
				return usagef("--target and --storage do not apply to the daemon: it runs every scheduled target of the config with its own storage")
			}
			if reloadInterval < 0 {
				return usagef("--reload-interval must not be negative (0 turns the file check off)")
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			ctx := cmd.Context()
			a := g.app(kf)
			err := daemon.Run(ctx, daemon.Options{
				ConfigPath:     g.config,
				Load:           a.DaemonLoader(g.config, a.ScheduledBackup, nil),
				Listen:         listen,
				Log:            g.log,
				NewElector:     a.NewElector(kf),
				Reload:         hup,
				ReloadInterval: reloadInterval,
				Version:        version,
			})
			var fe *config.FieldError
			if errors.As(err, &fe) || errors.Is(err, daemon.ErrNoSchedule) {
				return usageError{Err: err}
			}
			if err == nil && ctx.Err() != nil {
				return nil // a graceful shutdown is a success
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "", "address for /metrics, /healthz and /readyz, e.g. :9090 (default: daemon.listen of the config, else :9090)")
	f.DurationVar(&reloadInterval, "reload-interval", 10*time.Second, "how often to check the config file for changes; 0 turns it off (SIGHUP still reloads)")
	kf.AddFlags(f)
	return cmd
}
