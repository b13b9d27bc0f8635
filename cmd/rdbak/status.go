package main

import (
	"time"

	"github.com/rdbak/rdbak/internal/render"
	"github.com/spf13/cobra"
)

func newStatusCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each target's last successful backup, its age, the next run and the backups kept",
		Long: `Show, per target, the last successful backup and its age, the next run of
its schedule (from --config) and the number of backups kept. --target
limits it to one target; with only --storage, the targets are those with
backups in storage (and have no schedule).

Storage knows the successes only: a failed backup leaves no manifest. The
last failure and why are in the daemon's log, the
rdbak_backup_total{result="failure"} metric and the workload's Kubernetes
Events; alert on the age of the last success
(rdbak_backup_last_success_timestamp_seconds).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			out, err := g.req().Status(cmd.Context(), now)
			if err != nil {
				return err
			}
			if g.structured() {
				return g.writeResult(out)
			}
			return render.Statuses(g.stdout, out, now)
		},
	}
	g.addOutputFlag(cmd)
	return cmd
}
