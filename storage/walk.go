package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

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

// vanishedRetries bounds how often one page is listed again because a
// file vanished while fileblob listed it (vanished): after a pause of 10
// ms doubling up to a second, about 4 s in all.
const vanishedRetries = 10

// vanished reports whether err is file:// storage failing a listing
// because a file went away between reading its directory and reading its
// size: gocloud's fileblob (v0.47) lstats each directory entry and fails
// the whole page when one is gone. Every write of a file:// repository
// (rdbak sets no_tmp_dir) creates <key>.<n>.tmp beside its key and
// renames it at commit, and prune and gc delete files, so a listing of a
// target while a backup, a drill record or a prune of it writes or
// deletes there can fail so. The file is simply no longer there: a new
// listing, once the rename or delete is done, answers the directory as it
// is, as a bucket listing would have in the first place.
func vanished(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Op == "lstat" && errors.Is(err, fs.ErrNotExist)
}

// listPage is list, listed again after a pause while it fails because a
// file vanished under it.
func (r *Repo) listPage(ctx context.Context, list pager, token []byte, size int, o *blob.ListOptions) ([]*blob.ListObject, []byte, error) {
	objs, next, err := list(ctx, token, size, o)
	pause := 10 * time.Millisecond
	for try := 0; try < vanishedRetries && err != nil && vanished(err); try++ {
		if r.vanishPause > 0 {
			pause = r.vanishPause
		}
		select {
		case <-ctx.Done():
			return nil, nil, err
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
		objs, next, err = list(ctx, token, size, o)
	}
	return objs, next, err
}

// walk calls fn for each object under o's prefix, in key order (the
// lexicographic order gocloud's List guarantees), one page at a time. An
// error of fn stops the walk and is returned as it is. A page that failed
// because a file vanished while it was listed (vanished) is listed again.
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
		objs, next, err := r.listPage(ctx, list, token, size, o)
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
