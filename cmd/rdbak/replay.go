package main

import (
	"context"
	"errors"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/render"
)

// replayOpts are restore --replay-to's flags.
type replayOpts struct {
	url   string
	batch int
}

// restoreReplay replays the backup rr names, key by key, into the Redis or
// Redis Cluster at o.url, after a confirmation, with a (whose kubectl flags
// reach an identitySecret).
func restoreReplay(ctx context.Context, g *globals, a *app.App, rr app.RestoreRequest, o replayOpts, ko kubeRestoreOpts) error {
	b, to, err := a.OpenReplay(ctx, g.Req(), rr, o.url)
	if err != nil {
		return err
	}
	defer b.Close()
	m := b.Manifest
	if err := render.ReplayIntent(g.Stderr, m, o.url); err != nil || ko.dryRun {
		return err
	}
	if !ko.yes {
		if err := ko.prompt.Confirm("replay"); err != nil {
			return err
		}
	}
	prog := &app.ReplayProgress{}
	line := render.ReplayProgress(g.Term, prog, int64(m.Keys()))
	rep, err := a.Replay(ctx, b.Repo, m, to, app.ReplayOptions{Identities: b.Identities, Batch: o.batch, Progress: prog})
	line.Stop()
	if rep == nil {
		return err
	}
	if g.Structured() {
		return errors.Join(err, g.WriteResult(rep))
	}
	return errors.Join(render.Replayed(g.Stdout, m, rep), err)
}
