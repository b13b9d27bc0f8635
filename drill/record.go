package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// RecordFormat is the version of the drill record layout this build writes.
const RecordFormat = 1

// Results of a drill.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
)

// Record is the verdict of one drill, stored beside the backup it drilled
// and never rewritten.
type Record struct {
	Format   int       `json:"format"`
	Target   string    `json:"target"`
	BackupID string    `json:"backupId"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// DurationSeconds is Finished - Started, for scripts.
	DurationSeconds float64 `json:"durationSeconds"`
	Result          string  `json:"result"` // success or failure
	// Reason is the first failure, "" on success.
	Reason string `json:"reason,omitempty"`
	// Scratch is the server the backup was loaded into; empty when the
	// drill failed before one was chosen.
	Scratch Scratch `json:"scratch"`
	Checks  []Check `json:"checks"`
	Rdbak   string  `json:"rdbak"` // the rdbak version that ran it
	// Name is the record's object name (not stored in it).
	Name string `json:"-"`
}

// Scratch describes where a drill loaded the backup.
type Scratch struct {
	Kind string `json:"kind,omitempty"` // local or pod
	Server
}

// OK reports whether the drill succeeded.
func (r *Record) OK() bool { return r.Result == ResultSuccess }

// Finish sets the result from the checks (a failed check or a non-empty
// reason fails the drill) and the finish time.
func (r *Record) Finish(now time.Time) {
	r.Finished = now
	r.DurationSeconds = now.Sub(r.Started).Seconds()
	r.Result = ResultSuccess
	for _, c := range r.Checks {
		if !c.OK {
			r.Result = ResultFailure
			if r.Reason == "" {
				r.Reason = c.Name + ": " + c.Detail
			}
		}
	}
	if r.Reason != "" {
		r.Result = ResultFailure
	}
}

// Err is ErrFailed with the reason for a failed drill, nil otherwise.
func (r *Record) Err() error {
	if r.OK() {
		return nil
	}
	return fmt.Errorf("%w: %s/%s: %s", ErrFailed, r.Target, r.BackupID, r.Reason)
}

// Save writes r beside backup m under a fresh name, which it returns.
func Save(ctx context.Context, repo *storage.Repo, m *storage.Manifest, r *Record) (string, error) {
	r.Format = RecordFormat
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode drill record of %s/%s: %w", m.Target, m.ID, err)
	}
	name := storage.DrillRecordName(r.Started)
	if err := repo.PutDrillRecord(ctx, m, name, append(b, '\n')); err != nil {
		return "", err
	}
	r.Name = name
	return name, nil
}

// Load reads the drill records refs names, in order. A record that does
// not decode is returned as an error naming it.
func Load(ctx context.Context, repo *storage.Repo, refs []storage.RecordRef) ([]Record, error) {
	out := make([]Record, 0, len(refs))
	for _, ref := range refs {
		b, err := repo.ReadDrillRecord(ctx, ref)
		if err != nil {
			return nil, err
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%w: decode drill record %s: %w", storage.ErrDamaged, ref.Key(), err)
		}
		if r.Format > RecordFormat {
			return nil, fmt.Errorf("drill record %s has format %d; this rdbak reads up to %d: upgrade rdbak", ref.Key(), r.Format, RecordFormat)
		}
		r.Name = ref.Name
		out = append(out, r)
	}
	return out, nil
}

// Latest returns the newest record of target (any target when ""; only
// the newest successful one when success), nil when there is none. It
// reads records newest first and stops at the first match.
func Latest(ctx context.Context, repo *storage.Repo, target string, success bool) (*Record, error) {
	refs, err := repo.DrillRecords(ctx, target, "")
	if err != nil {
		return nil, err
	}
	for i := len(refs) - 1; i >= 0; i-- {
		rs, err := Load(ctx, repo, refs[i:i+1])
		if err != nil {
			return nil, err
		}
		if !success || rs[0].OK() {
			return &rs[0], nil
		}
	}
	return nil, nil
}
