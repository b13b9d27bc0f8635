package storage

import (
	"context"
	"errors"
	"fmt"

	"gocloud.dev/blob"
)

// Listing is paged: every walk over the repository asks the bucket for one
// page of keys at a time (gocloud's ListPage) and hands each key on before
// the next page is fetched, so what a listing holds is one page plus what
// its caller keeps, never the whole repository. The daemon runs for months
// next to storage that holds ever more backups; its memory must not grow
// with them.

// listPageSize is how many keys one page holds: S3's and GCS's maximum.
const listPageSize = 1000

// pager is bucket.ListPage; tests wrap it to count what a call lists.
type pager func(ctx context.Context, token []byte, size int, o *blob.ListOptions) ([]*blob.ListObject, []byte, error)

// walk calls fn for each object under o's prefix, in key order (the
// lexicographic order gocloud's List guarantees), one page at a time. An
// error of fn stops the walk and is returned as it is.
func (r *Repo) walk(ctx context.Context, o *blob.ListOptions, fn func(*blob.ListObject) error) error {
	list := r.pager
	if list == nil {
		list = r.bucket.ListPage
	}
	size := r.pageSize
	if size <= 0 {
		size = listPageSize
	}
	token := blob.FirstPageToken
	for {
		objs, next, err := list(ctx, token, size, o)
		if err != nil {
			return r.scrub.err(fmt.Errorf("list %s in %s: %w", listWhat(o.Prefix), r.display, err))
		}
		for _, obj := range objs {
			if err := fn(obj); err != nil {
				return err
			}
		}
		if len(next) == 0 {
			return nil
		}
		token = next
	}
}

func listWhat(prefix string) string {
	if prefix == "" {
		return "every object"
	}
	return prefix
}

// Latest returns target's newest committed backup, the one with the
// newest id among those with a manifest, reading only its manifest: the
// daemon seeds rdbak_backup_last_success_timestamp_seconds with it. It
// returns nil and no error when target has no backup. A newest manifest
// that cannot be read is an error wrapping ErrDamaged.
func (r *Repo) Latest(ctx context.Context, target string) (*Manifest, error) {
	if err := ValidateTarget(target); err != nil {
		return nil, err
	}
	var newest string
	err := r.walk(ctx, &blob.ListOptions{Prefix: target + "/"}, func(obj *blob.ListObject) error {
		_, id, name, ok := splitBackupKey(obj.Key)
		if ok && name == ManifestName && (newest == "" || CompareID(id, newest) > 0) {
			newest = id
		}
		return nil
	})
	if err != nil || newest == "" {
		return nil, err
	}
	m, err := r.manifest(ctx, target, newest)
	if errors.Is(err, ErrNotFound) {
		return nil, nil // deleted since it was listed (pruned): no newer one exists
	}
	return m, err
}
