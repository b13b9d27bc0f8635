package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
	"github.com/rdbak/rdbak/internal/render"
	"github.com/rdbak/rdbak/storage"
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
			var from time.Time
			if since != "" {
				var err error
				if from, err = app.ParseTime(since, now, time.Local); err != nil {
					return usagef("--since: %w", err)
				}
			}
			repo, target, err := g.req().OpenRepo(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer repo.Close()
			ms, problems, err := repo.List(cmd.Context(), target)
			if err != nil {
				return err
			}
			for _, p := range problems {
				g.log.Warn("unreadable manifest skipped", "key", p.Key, "error", p.Err.Error())
			}
			ms = app.Newest(ms, from, last)
			var lastDrills map[string]*app.DrillSummary
			if drills {
				if lastDrills, err = app.LastDrills(cmd.Context(), repo, target); err != nil {
					return err
				}
			}
			if g.structured() {
				if drills {
					return g.writeResult(render.WithDrills(ms, lastDrills))
				}
				return g.writeResult(ms)
			}
			return render.ManifestsWithDrills(g.stdout, ms, g.output == render.Wide, now, lastDrills)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only backups created at or after this time: 2026-11-22, RFC 3339, or ago: 2h, 1d")
	cmd.Flags().IntVar(&last, "last", 0, "only the newest N backups")
	cmd.Flags().BoolVar(&drills, "drills", false, "show the result of each backup's newest restore drill")
	cli.AddOutputFlag(cmd, &g.output, render.Wide)
	return cmd
}

func newDescribeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe ID|PREFIX|latest",
		Short: "Show the manifest of one backup",
		Long:  longHelp("describe"),
		Args:  cli.ExactArgs(1, "give the backup ID (see 'rdbak list'), a unique prefix of it, or latest"),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, target, err := g.req().OpenRepo(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer repo.Close()
			sel, err := app.ResolveBackup(cmd.Context(), repo, target, args[0], time.Time{}, storage.ResolveOptions{})
			if err != nil {
				return err
			}
			drills, err := app.Drills(cmd.Context(), repo, sel.Manifest)
			if err != nil {
				return err
			}
			if g.structured() {
				return g.writeResult(render.DescribedBackup{Manifest: sel.Manifest, Drills: drills})
			}
			if err := render.Manifest(g.stdout, sel.Manifest); err != nil {
				return err
			}
			return render.Drills(g.stdout, drills)
		},
	}
	cli.AddOutputFlag(cmd, &g.output)
	return cmd
}
