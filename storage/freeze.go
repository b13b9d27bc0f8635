package storage

import (
	"bytes"
	"context"
	"fmt"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// FreezeName is the object a restore into a Sentinel set writes under its
// target, before it sets replica-priority 0 on the replicas, and deletes
// once the priorities are back:
//
//	<target>/.rdbak-freeze.json
//
// It holds the priorities to put back and the restore's lease, so that a
// restore killed while the set was frozen (kill -9, a lost node) is found
// and undone by the next rdbak run, from any machine. It is not a backup
// key (two parts, not three): List, Leftovers and gc never see it.
const FreezeName = ".rdbak-freeze.json"

func freezeKey(target string) string { return target + "/" + FreezeName }

// PutFreeze writes the freeze record of target. With create, it fails with
// ErrRecordExists when one is there already (taking the freeze is atomic);
// without, it replaces it (renewing the lease).
func (r *Repo) PutFreeze(ctx context.Context, target string, body []byte, create bool) error {
	key := freezeKey(target)
	// Upload, not WriteAll: gocloud's azureblob writer (v0.47) panics in
	// Close when a small write's upload fails, as IfNotExist makes it.
	err := r.bucket.Upload(ctx, key, bytes.NewReader(body), &blob.WriterOptions{ContentType: "application/json", IfNotExist: create})
	if create && gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return fmt.Errorf("%w: %s in %s", ErrRecordExists, key, r.display)
	}
	if err != nil {
		return r.scrub.err(fmt.Errorf("write freeze record %s to %s: %w", key, r.display, err))
	}
	return nil
}

// ReadFreeze returns the freeze record of target; ErrNotFound when none.
func (r *Repo) ReadFreeze(ctx context.Context, target string) ([]byte, error) {
	key := freezeKey(target)
	b, err := r.bucket.ReadAll(ctx, key)
	if notFound(err) {
		return nil, fmt.Errorf("%w: no freeze record %s in %s", ErrNotFound, key, r.display)
	}
	if err != nil {
		return nil, r.scrub.err(fmt.Errorf("read freeze record %s from %s: %w", key, r.display, err))
	}
	return b, nil
}

// DeleteFreeze removes the freeze record of target; none is not an error.
func (r *Repo) DeleteFreeze(ctx context.Context, target string) error {
	key := freezeKey(target)
	err := r.bucket.Delete(ctx, key)
	if err != nil && !notFound(err) {
		return r.scrub.err(fmt.Errorf("delete freeze record %s from %s: %w", key, r.display, err))
	}
	return nil
}
