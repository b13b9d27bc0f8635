package render

import (
	"fmt"
	"io"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/storage"
)

// ReplayIntent is what restore --replay-to says before it asks: the
// backup m, its key count and where it goes (url, without its password).
func ReplayIntent(w io.Writer, m *storage.Manifest, url string) error {
	what := "backup"
	if m.IsSet() {
		what = fmt.Sprintf("cluster backup set (%d shards)", len(m.Cluster.Shards))
	}
	_, err := fmt.Fprintf(w, "Replay %s %s/%s: %d keys into %s; keys of the same names are replaced.\n", what, m.Target, m.ID, m.Keys(), storage.Redact(url))
	return err
}

// Replayed is restore --replay-to's report of m's replay: the counts and
// rates, then each failed key it kept.
func Replayed(w io.Writer, m *storage.Manifest, rep *app.ReplayReport) error {
	_, err := fmt.Fprintf(w, "%s/%s into %s: %d keys restored, %d already expired, %d failed; %d function libraries (verify %.1fs, replay %.1fs, %.0f keys/s)\n",
		m.Target, m.ID, rep.Target, rep.Restored, rep.Expired, rep.Failed, rep.Functions, rep.Verify, rep.Replay, float64(rep.Restored)/max(rep.Replay, 1e-3))
	if rep.Evicted > 0 {
		fmt.Fprintf(w, "EVICTED %d keys: the target dropped them to stay under its maxmemory after they were restored\n", rep.Evicted)
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(w, "FAILED db %d key %q on %s: %s\n", f.DB, f.Key, f.Node, f.Err)
	}
	if int64(len(rep.Failures)) < rep.Failed {
		fmt.Fprintf(w, "... and %d more failed keys: every one is in the log (level warn)\n", rep.Failed-int64(len(rep.Failures)))
	}
	return err
}
