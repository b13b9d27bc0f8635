package app

import (
	"context"
	"fmt"
	"time"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/schedule"
	"github.com/rdbak/rdbak/storage"
)

// PruneReport is what Prune decided and did for one target.
type PruneReport struct {
	Policy  schedule.Policy
	Result  schedule.PruneResult // every backup with keep or drop and why
	Orphans []storage.Orphan     // collectable orphans (deleted when asked)
}

// Prune applies t's retention policy to its backups in repo and collects
// its orphans older than grace at now. Without del it only decides: the
// report says what would go. A target without a keep rule keeps everything.
func Prune(ctx context.Context, repo *storage.Repo, t *config.Target, del bool, grace time.Duration, now time.Time) (PruneReport, error) {
	var rep PruneReport
	policy, err := t.Policy()
	if err != nil {
		return rep, UsageError{Err: err}
	}
	rep.Policy = policy
	rep.Result, err = schedule.Prune(ctx, repo, t.Name, policy, del)
	if err != nil {
		return rep, fmt.Errorf("%w (%d of the backups marked drop were deleted)", err, len(rep.Result.Deleted))
	}
	rep.Orphans, err = schedule.CollectOrphans(ctx, repo, t.Name, now, grace, del)
	return rep, err
}
