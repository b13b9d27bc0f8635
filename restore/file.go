package restore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/storage"
)

// FileOptions tunes ToFile.
type FileOptions struct {
	// Overwrite allows replacing an existing file at the path.
	Overwrite bool
	// Counter, if set, is told of each RDB byte written.
	Counter func(n int)
	// Identities decrypt an encrypted backup.
	Identities *crypt.Identities
}

// ToFile restores backup m into the file at path: it writes a temporary
// file beside it, verifies the backup completely, fsyncs, renames it over
// path and fsyncs the directory. A failed or cancelled restore removes the
// temporary file and leaves path as it was.
func ToFile(ctx context.Context, repo *storage.Repo, m *storage.Manifest, path string, o FileOptions) (*Report, error) {
	if err := CheckSingle(m); err != nil {
		return nil, err
	}
	if err := CheckDecryptable(m, o.Identities); err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return nil, fmt.Errorf("restore to %s: it is a directory; give the file path, e.g. %s", path, filepath.Join(path, "dump.rdb"))
		}
		if !o.Overwrite {
			return nil, fmt.Errorf("restore to %s: the file exists; pass --force to replace it (it is replaced only after the backup verified)", path)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("restore to %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	stale := removeStaleTemps(dir, filepath.Base(path), time.Now())
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".rdbak-tmp-*")
	if err != nil {
		return nil, fmt.Errorf("restore to %s: create temporary file: %w", path, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	rep, err := Fetch(ctx, repo, m, bw, FetchOptions{Counter: o.Counter, Identities: o.Identities, SkipRawSHA256: true})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("restore to %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("restore to %s: write: %w", path, err)
	}
	if err := tmp.Chmod(0o640); err != nil {
		return nil, fmt.Errorf("restore to %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("restore to %s: fsync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("restore to %s: close: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("restore to %s: rename: %w", path, err)
	}
	committed = true
	rep.StaleTemps = stale
	if err := syncDir(dir); err != nil {
		return rep, fmt.Errorf("restore to %s: the file is in place but fsync of %s failed: %w", path, dir, err)
	}
	return rep, nil
}

// staleTempAge is how long a temporary file of ToFile must have gone
// unwritten before another restore to the same path removes it: a running
// restore writes its file continuously.
const staleTempAge = 10 * time.Minute

// removeStaleTemps removes the temporary files that a killed restore to
// dir/base left behind (.<base>.rdbak-tmp-*, unwritten for staleTempAge)
// and returns their names. It is best effort: a file it cannot remove is
// left for the next run.
func removeStaleTemps(dir, base string, now time.Time) []string {
	names, _ := filepath.Glob(filepath.Join(dir, "."+base+".rdbak-tmp-*"))
	var removed []string
	for _, n := range names {
		st, err := os.Lstat(n)
		if err != nil || !st.Mode().IsRegular() || now.Sub(st.ModTime()) < staleTempAge {
			continue
		}
		if os.Remove(n) == nil {
			removed = append(removed, n)
		}
	}
	return removed
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
