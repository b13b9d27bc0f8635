package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
)

// replayOpts are restore --replay-to's flags.
type replayOpts struct {
	url      string
	passFile string
	batch    int
}

// restoreReplay replays a backup, key by key, into the Redis or Redis
// Cluster at o.url.
func (g *globals) restoreReplay(ctx context.Context, args []string, at time.Time, fromTarget string, o replayOpts, ko kubeRestoreOpts, skipDamaged bool, idFiles []string) error {
	if !strings.HasPrefix(o.url, "redis://") && !strings.HasPrefix(o.url, "rediss://") {
		return usagef("--replay-to %q: use redis://[user[:password]@]host:port (any node of a cluster), or rediss:// for TLS", redactURL(o.url))
	}
	to := &config.Target{Name: "replay", Redis: o.url, PasswordFile: o.passFile}
	if _, _, err := to.Endpoint(); err != nil {
		return usagef("--replay-to: %w", err)
	}
	if to.PasswordFile == "" {
		for _, env := range []string{"REDIS_PASSWORD", "REDISCLI_AUTH"} {
			if os.Getenv(env) != "" {
				to.PasswordEnv = env
				break
			}
		}
	}
	repo, target, err := g.openRepo(ctx, false)
	if err != nil {
		return err
	}
	defer repo.Close()
	if fromTarget != "" {
		target = fromTarget
	}
	m, err := g.pick(ctx, repo, target, args, at, skipDamaged)
	if err != nil {
		return err
	}
	var ids *crypt.Identities
	if m.Data.Encrypted() {
		if ids, err = g.identities(nil, idFiles); err != nil {
			return err
		}
	}
	what := "backup"
	if m.IsSet() {
		what = fmt.Sprintf("cluster backup set (%d shards)", len(m.Cluster.Shards))
	}
	fmt.Fprintf(g.stderr, "Replay %s %s/%s: %d keys into %s; keys of the same names are replaced.\n", what, m.Target, m.ID, m.Keys(), redactURL(o.url))
	if ko.dryRun {
		return nil
	}
	if !ko.yes {
		if err := confirm(ko, g.stderr, "replay"); err != nil {
			return err
		}
	}
	prog := &app.ReplayProgress{}
	line := startProgress(g.term, func() progressState {
		phase, _ := prog.Phase.Load().(string)
		return progressState{Phase: phase, Done: prog.Keys.Load(), Total: int64(m.Keys())}
	})
	rep, err := g.cliApp(nil).Replay(ctx, repo, m, to, app.ReplayOptions{Identities: ids, Batch: o.batch, Progress: prog})
	line.Stop()
	if rep != nil {
		if structured, _ := g.jsonOutput(); structured {
			if werr := g.writeResult(rep); werr != nil {
				return errors.Join(err, werr)
			}
		} else {
			fmt.Fprintf(g.stdout, "%s/%s into %s: %d keys restored, %d already expired, %d failed; %d function libraries (verify %.1fs, replay %.1fs, %.0f keys/s)\n",
				m.Target, m.ID, rep.Target, rep.Restored, rep.Expired, rep.Failed, rep.Functions, rep.Verify, rep.Replay, float64(rep.Restored)/max(rep.Replay, 1e-3))
			for _, f := range rep.Failures {
				fmt.Fprintf(g.stdout, "FAILED db %d key %q on %s: %s\n", f.DB, f.Key, f.Node, f.Err)
			}
			if int64(len(rep.Failures)) < rep.Failed {
				fmt.Fprintf(g.stdout, "... and %d more failed keys: every one is in the log (level warn)\n", rep.Failed-int64(len(rep.Failures)))
			}
		}
	}
	return err
}
