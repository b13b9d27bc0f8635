package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/render"
)

func newDrillCmd(g *globals) *cobra.Command {
	var (
		all     bool
		servers []string
		idFiles []string
	)
	var kf *kube.Flags
	cmd := &cobra.Command{
		Use:   "drill [--target NAME | --all] [ID|latest]",
		Short: "Prove a backup restores: load it into a scratch Redis and check what it holds",
		Long:  longHelp("drill"),
		Args:  cli.MaxArgs(1, "give the backup ID, a unique prefix of it, or latest"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d := app.DrillRequest{All: all, Servers: servers, IdentityFiles: idFiles}
			if len(args) == 1 {
				d.Ref = args[0]
			}
			recs, err := g.CLIApp(kf).DrillTargets(cmd.Context(), g.Req(), d)
			if g.Structured() {
				if !all && len(recs) == 1 {
					return errors.Join(g.WriteResult(recs[0]), err)
				}
				return errors.Join(g.WriteResult(recs), err)
			}
			for _, r := range recs {
				if werr := render.Drill(g.Stdout, r); werr != nil {
					return werr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "drill the latest backup of every target of --config")
	f.StringArrayVar(&servers, "redis-server", nil, "a redis-server or valkey-server binary the drill may load the backup into, besides drill.servers and PATH; repeatable")
	cli.AddIdentityFlag(cmd, &idFiles)
	cli.AddOutputFlag(cmd, &g.Output)
	// Only to record DrillSucceeded/DrillFailed Events for targets in
	// Kubernetes: a drill never reaches their Redis.
	kf = cli.AddKubectlFlags(cmd)
	return cmd
}
