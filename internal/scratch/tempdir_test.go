package scratch

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestRemoveStaleDirs: a drill killed with SIGKILL leaves its directory,
// with a decrypted backup in it; the next drill removes it, but not the
// directory of a drill still running (locked), one just made (not yet
// locked), or anything not of its naming.
func TestRemoveStaleDirs(t *testing.T) {
	tmp := t.TempDir()
	now := time.Now()
	mk := func(name string, age time.Duration) string {
		dir := filepath.Join(tmp, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "dump.rdb"), []byte("REDIS0011"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dir, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	killed := mk(dirPattern+"111", time.Hour)
	running := mk(dirPattern+"222", time.Hour)
	fresh := mk(dirPattern+"333", time.Second)
	other := mk("other-444", time.Hour)
	lock, err := lockDir(running)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()

	if got := removeStaleDirs(tmp, now); !slices.Equal(got, []string{killed}) {
		t.Errorf("removed %v, want %v", got, []string{killed})
	}
	for _, dir := range []string{running, fresh, other} {
		if _, err := os.Stat(filepath.Join(dir, "dump.rdb")); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
}

// TestTempDir: the directory is locked while in use and gone after release.
func TestTempDir(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	dir, release, err := TempDir()
	if err != nil {
		t.Fatal(err)
	}
	if f, err := lockDir(dir); err == nil {
		f.Close()
		t.Error("a drill's directory is not locked while in use")
	}
	if got := removeStaleDirs(os.TempDir(), time.Now().Add(time.Hour)); len(got) != 0 {
		t.Errorf("a running drill's directory was removed: %v", got)
	}
	release()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after release: %v", err)
	}
}
