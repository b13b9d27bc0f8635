package app

import (
	"context"
	"errors"
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

// Pruner applies retention to several targets in one run, opening each
// storage once, and counts what it drops.
type Pruner struct {
	// Storage, when set, replaces every target's storage (--storage).
	Storage string
	// Delete carries the plan out; without it, Prune only decides.
	Delete bool
	// Grace is the age from which orphans are collected.
	Grace time.Duration
	Now   time.Time

	repos          map[string]*storage.Repo
	Drops, Orphans int // totals over the targets so far
}

// Close closes the repositories the pruner opened.
func (p *Pruner) Close() {
	for _, r := range p.repos {
		_ = r.Close()
	}
}

// PruneTargets returns the targets to prune: the config file's (all, or
// --target's), each with the keep policy of the command line when keep is
// not nil; without a config, the policy keep for --target or for every
// target with backups in --storage.
func (r Request) PruneTargets(ctx context.Context, p *Pruner, keep *config.Retention) ([]config.Target, error) {
	if r.Config != "" {
		targets, err := r.ConfigTargets()
		if err != nil {
			return nil, err
		}
		if keep != nil {
			for i := range targets {
				targets[i].Retention = *keep
			}
		}
		return targets, nil
	}
	if keep == nil {
		return nil, usagef("prune needs a policy: --config FILE (the targets' retention), or --storage URL with --keep-last, --keep-daily, ... flags")
	}
	if r.Storage == "" {
		return nil, usagef("--storage is required with the --keep flags, e.g. --storage file:///var/backups/rdbak")
	}
	names := []string{r.Target}
	if r.Target == "" {
		repo, err := p.repo(ctx, r.Storage)
		if err != nil {
			return nil, err
		}
		if names, err = StoredTargets(ctx, repo); err != nil {
			return nil, err
		}
	} else if err := storage.ValidateTarget(r.Target); err != nil {
		return nil, usagef("--target: %w", err)
	} else if repo, err := p.repo(ctx, r.Storage); err != nil {
		return nil, err
	} else if hint := TargetHint(ctx, repo, r.Target); hint != "" {
		r.Log.Warn("no backups of target " + r.Target + ": " + hint)
	}
	targets := make([]config.Target, 0, len(names))
	for _, n := range names {
		targets = append(targets, config.Target{Name: n, Storage: r.Storage, Retention: *keep})
	}
	return targets, nil
}

// PruneAll prunes each target of PruneTargets (keep: the command line's
// policy, or nil) with p. done sees each target's result once it is
// decided (and, with p.Delete, carried out), so that what was done is
// reported as it goes; the first error stops it.
func (r Request) PruneAll(ctx context.Context, p *Pruner, keep *config.Retention, done func(PruneResult)) ([]PruneResult, error) {
	targets, err := r.PruneTargets(ctx, p, keep)
	if err != nil {
		return nil, err
	}
	results := []PruneResult{}
	for i := range targets {
		res, err := p.Target(ctx, &targets[i])
		if err != nil {
			return results, err
		}
		results = append(results, res)
		done(res)
	}
	return results, nil
}

func (p *Pruner) repo(ctx context.Context, url string) (*storage.Repo, error) {
	if p.Storage != "" {
		url = p.Storage
	}
	if r := p.repos[url]; r != nil {
		return r, nil
	}
	r, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		return nil, err
	}
	if p.repos == nil {
		p.repos = map[string]*storage.Repo{}
	}
	p.repos[url] = r
	return r, nil
}

// PruneResult is prune's result for one target, as -o json|yaml prints it.
type PruneResult struct {
	Target   string          `json:"target"`
	Policy   string          `json:"policy"`
	DryRun   bool            `json:"dryRun"`
	Backups  []PruneDecision `json:"backups"`
	Orphans  []OrphanResult  `json:"orphans"`
	Problems []string        `json:"problems,omitempty"`
	// Location is the policy's time zone, for printing the times.
	Location *time.Location `json:"-"`
}

// PruneDecision is one backup kept or dropped, and why.
type PruneDecision struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Keep    bool      `json:"keep"`
	Reasons []string  `json:"reasons"`
}

// OrphanResult is an orphan as prune prints it.
type OrphanResult struct {
	Target      string    `json:"target"`
	ID          string    `json:"id"`
	Bytes       int64     `json:"bytes"`
	Objects     int       `json:"objects"`
	LastWritten time.Time `json:"lastWritten"`
	Deleted     bool      `json:"deleted"`
}

// Target decides, and with Delete carries out, the plan for one target.
func (p *Pruner) Target(ctx context.Context, t *config.Target) (PruneResult, error) {
	res := PruneResult{Target: t.Name, DryRun: !p.Delete, Backups: []PruneDecision{}, Orphans: []OrphanResult{}}
	repo, err := p.repo(ctx, t.Storage)
	if err != nil {
		return res, err
	}
	rep, err := Prune(ctx, repo, t, p.Delete, p.Grace, p.Now)
	if errors.As(err, new(UsageError)) {
		return res, err // the policy did not parse
	}
	res.Policy, res.Location = rep.Policy.String(), rep.Policy.Location
	for _, d := range rep.Result.Plan {
		if !d.Keep {
			p.Drops++
		}
		res.Backups = append(res.Backups, PruneDecision{ID: d.Manifest.ID, Created: d.Manifest.Created, Keep: d.Keep, Reasons: d.Reasons})
	}
	for _, pr := range rep.Result.Problems {
		res.Problems = append(res.Problems, fmt.Sprintf("%s: %v", pr.Key, pr.Err))
	}
	for _, o := range rep.Orphans {
		p.Orphans++
		res.Orphans = append(res.Orphans, OrphanResult{Target: o.Target, ID: o.ID, Bytes: o.Size, Objects: len(o.Keys), LastWritten: o.Newest.UTC(), Deleted: p.Delete})
	}
	return res, err
}
