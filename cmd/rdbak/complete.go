package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/render"
	"github.com/rdbak/rdbak/storage"
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
	repo, target, err := g.req().OpenRepo(ctx, false)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	defer repo.Close()
	ms, _, err := repo.List(ctx, target)
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
	if g.config != "" {
		f, err := g.req().LoadConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []string
		for _, t := range f.Targets {
			names = append(names, t.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
	if g.storage == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	repo, err := storage.Open(ctx, g.storage, storage.Options{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	defer repo.Close()
	ms, _, err := repo.List(ctx, "")
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return storage.Targets(ms), cobra.ShellCompDirectiveNoFileComp
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
