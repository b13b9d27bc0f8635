package main

import (
	"errors"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
	"github.com/rdbak/rdbak/internal/render"
)

func newListCmd(g *globals) *cobra.Command {
	var (
		since  string
		last   int
		drills bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the backups in storage, oldest first",
		Long:  longHelp("list"),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			from, err := cli.TimeFlag("--since", since, now)
			if err != nil {
				return err
			}
			l, err := g.Req().List(cmd.Context(), app.ListOptions{Since: from, Last: last, Drills: drills})
			switch {
			case err != nil:
				return err
			case g.Structured() && drills:
				return g.WriteResult(render.WithDrills(l.Manifests, l.Drills))
			case g.Structured():
				return g.WriteResult(l.Manifests)
			}
			return render.ManifestsWithDrills(g.Stdout, l.Manifests, g.Output == render.Wide, now, l.Drills)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only backups created at or after this time: 2026-11-22, RFC 3339, or ago: 2h, 1d")
	cli.CountVar(cmd.Flags(), &last, "last", "only the newest N backups")
	cmd.Flags().BoolVar(&drills, "drills", false, "show the result of each backup's newest restore drill")
	cli.AddOutputFlag(cmd, &g.Output, render.Wide)
	return cmd
}

func newDescribeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe ID|PREFIX|latest",
		Short: "Show the manifest of one backup",
		Long:  longHelp("describe"),
		Args:  cli.ExactArgs(1, "give the backup ID (see 'rdbak list'), a unique prefix of it, or latest"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, drills, err := g.Req().Describe(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.Print(render.DescribedBackup{Manifest: m, Drills: drills}, func(w io.Writer) error {
				return errors.Join(render.Manifest(w, m), render.Drills(w, drills))
			})
		},
	}
	cli.AddOutputFlag(cmd, &g.Output)
	return cmd
}
