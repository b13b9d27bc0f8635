package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// ErrRecordExists means a record of that name was already written: records
// are never replaced.
var ErrRecordExists = errors.New("record exists")

// RecordRef names one drill record of one backup.
type RecordRef struct {
	Target, ID, Name string
}

// Key is the record's object key within the repository.
func (r RecordRef) Key() string { return dataKey(r.Target, r.ID, r.Name) }

// PutDrillRecord writes body as the drill record name (DrillRecordName)
// beside backup m. It never replaces an object: a name already taken fails
// with ErrRecordExists, so no drill can rewrite an earlier one's verdict.
func (r *Repo) PutDrillRecord(ctx context.Context, m *Manifest, name string, body []byte) error {
	if _, ok := DrillRecordTime(name); !ok {
		return fmt.Errorf("drill record name %q is not of the form drill-<time>-<rand>.json", name)
	}
	key := dataKey(m.Target, m.ID, name)
	// Upload, not WriteAll: gocloud's azureblob writer (v0.47) panics in
	// Close when a small write's upload fails, as IfNotExist makes it.
	err := r.bucket.Upload(ctx, key, bytes.NewReader(body), &blob.WriterOptions{ContentType: "application/json", IfNotExist: true})
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return fmt.Errorf("%w: %s in %s", ErrRecordExists, key, r.display)
	}
	if err != nil {
		return r.scrub.err(fmt.Errorf("write drill record %s to %s: %w", key, r.display, err))
	}
	return nil
}

// DrillRecords lists the drill records of target's backups (all targets
// when target is ""; only backup id when id is not ""), oldest first by
// the time in their names. Records of a backup whose manifest is gone are
// listed too; callers match them to manifests.
func (r *Repo) DrillRecords(ctx context.Context, target, id string) ([]RecordRef, error) {
	prefix := ""
	switch {
	case target != "" && id != "":
		prefix = backupDir(target, id) + drillPrefix
	case target != "":
		prefix = target + "/"
	}
	var out []RecordRef
	err := r.walk(ctx, &blob.ListOptions{Prefix: prefix}, func(obj *blob.ListObject) error {
		t, bid, name, ok := splitBackupKey(obj.Key)
		if !ok || !strings.HasPrefix(name, drillPrefix) {
			return nil
		}
		if _, ok := DrillRecordTime(name); ok {
			out = append(out, RecordRef{Target: t, ID: bid, Name: name})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b RecordRef) int {
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// ReadDrillRecord returns the body of one drill record.
func (r *Repo) ReadDrillRecord(ctx context.Context, ref RecordRef) ([]byte, error) {
	b, err := r.bucket.ReadAll(ctx, ref.Key())
	if notFound(err) {
		return nil, fmt.Errorf("%w: no drill record %s in %s", ErrNotFound, ref.Key(), r.display)
	}
	if err != nil {
		return nil, r.scrub.err(fmt.Errorf("read drill record %s: %w", ref.Key(), err))
	}
	return b, nil
}
