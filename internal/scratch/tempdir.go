package scratch

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// dirPattern names the drills' directories in the temporary directory.
const dirPattern = "rdbak-drill-"

// staleAfter is how old an unlocked drill directory must be before
// another drill removes it: MkdirTemp and the lock are two steps, and a
// directory made a moment ago may not be locked yet.
const staleAfter = time.Minute

// TempDir makes a drill's directory and holds a lock on it until release,
// which also removes it. It first removes the directories of drills whose
// process died (kill -9, the OOM killer) before removing theirs: they hold
// a decrypted copy of a backup. A lock is released by the kernel when its
// process dies, so an unlocked directory is nobody's.
func TempDir() (dir string, release func(), err error) {
	removeStaleDirs(os.TempDir(), time.Now())
	dir, err = os.MkdirTemp("", dirPattern)
	if err != nil {
		return "", nil, fmt.Errorf("create the scratch directory: %w", err)
	}
	f, err := lockDir(dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("lock the scratch directory: %w", err)
	}
	return dir, func() {
		os.RemoveAll(dir)
		f.Close()
	}, nil
}

// lockDir takes an exclusive flock on dir without waiting; the lock lasts
// while the returned file is open.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// removeStaleDirs removes the drill directories in tmp that no process
// holds locked and that were made at least staleAfter before now, and
// returns them. One it cannot open (another user's) is left alone.
func removeStaleDirs(tmp string, now time.Time) []string {
	dirs, _ := filepath.Glob(filepath.Join(tmp, dirPattern+"*"))
	var removed []string
	for _, dir := range dirs {
		st, err := os.Lstat(dir)
		if err != nil || !st.IsDir() || now.Sub(st.ModTime()) < staleAfter {
			continue
		}
		f, err := lockDir(dir) // held by a running drill, or not ours
		if err != nil {
			continue
		}
		if os.RemoveAll(dir) == nil {
			removed = append(removed, dir)
		}
		f.Close()
	}
	return removed
}
