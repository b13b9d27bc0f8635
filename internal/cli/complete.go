package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/render"
)

// completionTimeout bounds the storage listing behind a TAB press.
const completionTimeout = 10 * time.Second

// Completer offers the candidates of TAB completion from Request's
// storage and config file. Completion runs no PersistentPreRun, so a
// Request without a logger gets one that discards: nothing may be printed
// on stdout but the candidates.
type Completer struct {
	Request func() app.Request // the global flags as given
	Now     func() time.Time
}

func (c Completer) request() app.Request {
	r := c.Request()
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	return r
}

// Register completes --target, restore's --from-target, and the backup
// ID of restore, describe and verify.
func (c Completer) Register(root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("target", c.targets)
	for _, sub := range root.Commands() {
		switch sub.Name() {
		case "restore":
			_ = sub.RegisterFlagCompletionFunc("from-target", c.targets)
			sub.ValidArgsFunction = c.ids
		case "describe", "verify":
			sub.ValidArgsFunction = c.ids
		}
	}
}

// ids offers latest and the backup IDs in storage (of --target, if
// given), newest first, each with its target and age.
func (c Completer) ids(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := completionContext(cmd)
	defer cancel()
	ms, err := c.request().Backups(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	out := []string{"latest\tthe newest backup"}
	now := c.Now()
	for i := len(ms) - 1; i >= 0; i-- {
		out = append(out, ms[i].ID+"\t"+ms[i].Target+", "+render.Age(now.Sub(ms[i].Created))+" ago")
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// targets offers the targets of the config file, else those with backups
// in storage.
func (c Completer) targets(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	ctx, cancel := completionContext(cmd)
	defer cancel()
	names, err := c.request().TargetNames(ctx)
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

func completionContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, completionTimeout)
}
