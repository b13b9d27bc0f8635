package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/render"
	"github.com/rdbak/rdbak/storage"
)

// replayOpts are restore --replay-to's flags.
type replayOpts struct {
	url   string
	batch int
}

// restoreReplay replays the backup rr names, key by key, into the Redis or
// Redis Cluster at o.url, after a confirmation, with a (whose kubectl flags
// reach an identitySecret).
func (g *globals) restoreReplay(ctx context.Context, a *app.App, rr app.RestoreRequest, o replayOpts, ko kubeRestoreOpts) error {
	to, err := app.ReplayTo(o.url, rr.PasswordFile)
	if err != nil {
		return err
	}
	b, err := a.OpenBackup(ctx, g.req(), rr)
	if err != nil {
		return err
	}
	defer b.Close()
	m := b.Manifest
	what := "backup"
	if m.IsSet() {
		what = fmt.Sprintf("cluster backup set (%d shards)", len(m.Cluster.Shards))
	}
	fmt.Fprintf(g.stderr, "Replay %s %s/%s: %d keys into %s; keys of the same names are replaced.\n", what, m.Target, m.ID, m.Keys(), storage.Redact(o.url))
	if ko.dryRun {
		return nil
	}
	if !ko.yes {
		if err := ko.prompt.Confirm("replay"); err != nil {
			return err
		}
	}
	prog := &app.ReplayProgress{}
	line := render.StartProgress(g.term, func() render.State {
		phase, _ := prog.Phase.Load().(string)
		return render.State{Phase: phase, Done: prog.Keys.Load(), Total: int64(m.Keys())}
	})
	rep, err := a.Replay(ctx, b.Repo, m, to, app.ReplayOptions{Identities: b.Identities, Batch: o.batch, Progress: prog})
	line.Stop()
	if rep == nil {
		return err
	}
	if g.structured() {
		return errors.Join(err, g.writeResult(rep))
	}
	fmt.Fprintf(g.stdout, "%s/%s into %s: %d keys restored, %d already expired, %d failed; %d function libraries (verify %.1fs, replay %.1fs, %.0f keys/s)\n",
		m.Target, m.ID, rep.Target, rep.Restored, rep.Expired, rep.Failed, rep.Functions, rep.Verify, rep.Replay, float64(rep.Restored)/max(rep.Replay, 1e-3))
	for _, f := range rep.Failures {
		fmt.Fprintf(g.stdout, "FAILED db %d key %q on %s: %s\n", f.DB, f.Key, f.Node, f.Err)
	}
	if int64(len(rep.Failures)) < rep.Failed {
		fmt.Fprintf(g.stdout, "... and %d more failed keys: every one is in the log (level warn)\n", rep.Failed-int64(len(rep.Failures)))
	}
	return err
}
