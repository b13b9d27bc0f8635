package main

import (
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // CRON_TZ= and timeZone work in images without zoneinfo

	"github.com/spf13/cobra"

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
		Long:  longHelp("daemon"),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.Config == "" {
				return usagef("daemon needs --config: the targets and their schedules are in the config file")
			}
			if g.Target != "" || g.Storage != "" {
				return usagef("--target and --storage do not apply to the daemon: it runs every scheduled target of the config with its own storage")
			}
			if reloadInterval < 0 {
				return usagef("--reload-interval must not be negative (0 turns the file check off)")
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			return g.App(kf).RunDaemon(cmd.Context(), g.Config, daemon.Options{Listen: listen, Reload: hup, ReloadInterval: reloadInterval})
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "", "address for /metrics, /healthz and /readyz, e.g. :9090 (default: daemon.listen of the config, else :9090)")
	f.DurationVar(&reloadInterval, "reload-interval", 10*time.Second, "how often to check the config file for changes; 0 turns it off (SIGHUP still reloads)")
	kf.AddFlags(f)
	return cmd
}
