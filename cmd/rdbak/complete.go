package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/render"
)

// completionTimeout bounds the storage listing behind a TAB press.
const completionTimeout = 10 * time.Second

// completeIDs offers latest and the backup IDs in storage (of --target, if
// given), newest first, each with its target and age.
func (g *globals) completeIDs(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := g.completionContext(cmd)
	defer cancel()
	ms, err := g.req().Backups(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	out := []string{"latest\tthe newest backup"}
	now := time.Now()
	for i := len(ms) - 1; i >= 0; i-- {
		out = append(out, ms[i].ID+"\t"+ms[i].Target+", "+render.Age(now.Sub(ms[i].Created))+" ago")
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeTargets offers the targets of the config file, else those with
// backups in storage.
func (g *globals) completeTargets(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := g.completionContext(cmd)
	defer cancel()
	names, err := g.req().TargetNames(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completionContext: completion runs no PersistentPreRun, so the logger
// is set here; nothing may be printed on stdout but the candidates.
func (g *globals) completionContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, completionTimeout)
}

// addCompletions registers the completions of backup IDs and --target.
func (g *globals) addCompletions(root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("target", g.completeTargets)
	for _, c := range root.Commands() {
		switch c.Name() {
		case "restore":
			_ = c.RegisterFlagCompletionFunc("from-target", g.completeTargets)
			c.ValidArgsFunction = g.completeIDs
		case "describe", "verify":
			c.ValidArgsFunction = g.completeIDs
		}
	}
}
