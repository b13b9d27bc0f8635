package restore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
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
// temporary file and leaves path as it was. It replaces only a regular
// file (with o.Overwrite), whose owner and mode the new file keeps.
func ToFile(ctx context.Context, repo *storage.Repo, m *storage.Manifest, path string, o FileOptions) (*Report, error) {
	if err := CheckSingle(m); err != nil {
		return nil, err
	}
	if err := CheckDecryptable(m, o.Identities); err != nil {
		return nil, err
	}
	if _, err := replaceable(path, o.Overwrite); err != nil {
		return nil, err
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
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("restore to %s: fsync: %w", path, err)
	}
	// The path may have changed while the backup downloaded and synced:
	// look again just before the rename, take the owner and mode of what
	// is there now, and fsync again for those.
	old, err := replaceable(path, o.Overwrite)
	if err != nil {
		return nil, err
	}
	if err := takeOwnerAndMode(tmp, old, path); err != nil {
		return nil, err
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

// replaceable returns the regular file at path that ToFile may replace
// (with overwrite), or nil if there is none. It refuses everything else:
// ToFile renames a new file over path, so a device, pipe or socket would be
// replaced rather than written to, and a symbolic link would be replaced
// rather than the file it leads to. The refusal of a device, pipe, socket,
// or link to anything but a directory wraps ErrBadRequest.
func replaceable(path string, overwrite bool) (os.FileInfo, error) {
	st, err := os.Lstat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("restore to %s: %w", path, err)
	case st.Mode().IsRegular() && !overwrite:
		return nil, fmt.Errorf("restore to %s: the file exists; pass --force to replace it (it is replaced only after the backup verified)", path)
	case st.Mode().IsRegular():
		return st, nil
	}
	// A link is described by what it leads to, which decides what to
	// pass instead.
	what, target := "", st
	if st.Mode()&os.ModeSymlink != 0 {
		link, err := os.Readlink(path)
		if err != nil {
			return nil, fmt.Errorf("restore to %s: %w", path, err)
		}
		what = "a symbolic link to " + link + ", "
		if target, err = os.Stat(path); err != nil || target.Mode().IsRegular() {
			file, err := filepath.EvalSymlinks(path)
			if err != nil { // dangling: name where it points
				file = link
				if !filepath.IsAbs(link) {
					file = filepath.Join(filepath.Dir(path), link)
				}
			}
			return nil, fmt.Errorf("%w: restore to %s: it is a symbolic link to %s, and rdbak would replace the link, not the file it leads to; give the real path, --to-file %s", ErrBadRequest, path, link, file)
		}
	}
	if target.IsDir() {
		return nil, fmt.Errorf("restore to %s: it is %sa directory; give the file path, e.g. %s", path, what, filepath.Join(path, "dump.rdb"))
	}
	return nil, fmt.Errorf("%w: restore to %s: it is %sa %s, not a regular file, and rdbak would replace it rather than write into it; to write the RDB to stdout or a pipe use --to-file -", ErrBadRequest, path, what, fileKind(target.Mode()))
}

// fileKind names what a path that is neither a regular file, a directory
// nor a symbolic link is, for replaceable's refusal.
func fileKind(mode os.FileMode) string {
	switch {
	case mode&os.ModeCharDevice != 0:
		return "character device"
	case mode&os.ModeDevice != 0:
		return "block device"
	case mode&os.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case mode&os.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// takeOwnerAndMode gives tmp the permission bits and owner of old, the file
// it replaces, so that the Redis that read the old file (often as its own
// user) can read the new one; without old it gets 0640 and stays ours.
// It changes the owner only when it differs: a process that may not chown
// still replaces its own files, and a replacement that would end up with
// another owner is refused, leaving old in place.
func takeOwnerAndMode(tmp *os.File, old os.FileInfo, path string) error {
	mode := os.FileMode(0o640)
	if old != nil {
		mode = old.Mode().Perm()
		st, err := tmp.Stat()
		if err != nil {
			return fmt.Errorf("restore to %s: %w", path, err)
		}
		// On Unix, the only systems this package builds for (install.go
		// uses syscall.Stat_t too), Sys is a *syscall.Stat_t.
		want, have := old.Sys().(*syscall.Stat_t), st.Sys().(*syscall.Stat_t)
		if have.Uid != want.Uid || have.Gid != want.Gid {
			if err := tmp.Chown(int(want.Uid), int(want.Gid)); err != nil {
				return fmt.Errorf("restore to %s: give the new file the owner of the one it replaces (uid %d, gid %d): %w; run rdbak as root or as that user (%s is left as it was)", path, want.Uid, want.Gid, err, path)
			}
		}
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("restore to %s: %w", path, err)
	}
	return nil
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
