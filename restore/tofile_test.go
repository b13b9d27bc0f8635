package restore_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// storedBackup imports the RDB of a freshly filled server into a new file
// repository and returns the repository, the backup's manifest and the RDB.
func storedBackup(t *testing.T) (*storage.Repo, *storage.Manifest, []byte) {
	t.Helper()
	rdb, _ := snapshot(t)
	src := filepath.Join(t.TempDir(), "dump.rdb")
	if err := os.WriteFile(src, rdb, 0o600); err != nil {
		t.Fatal(err)
	}
	repo, err := storage.Open(t.Context(), "file://"+t.TempDir(), storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	zstd, err := codec.Settings{Codec: "zstd"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	res, err := backup.Import(t.Context(), backup.LocalFiles{}, src, repo, backup.Options{Target: "cache", Compression: zstd})
	if err != nil {
		t.Fatal(err)
	}
	return repo, res.Manifest, rdb
}

// requireRoot skips t, or fails it under RDBAK_REQUIRE, unless the test
// runs as root.
func requireRoot(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root", why)
	}
}

// mustNotChange returns a check that path is still the very entry it is
// now (same inode, same link target) and that dir holds nothing else than
// it did: nothing was renamed over it and no temporary file was left.
func mustNotChange(t *testing.T, path string) func() {
	t.Helper()
	before, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	link, _ := os.Readlink(path)
	entries := listDir(t, filepath.Dir(path))
	return func() {
		t.Helper()
		after, err := os.Lstat(path)
		if err != nil || !os.SameFile(before, after) || after.Mode() != before.Mode() {
			t.Errorf("%s was replaced: before %v, after %v (%v)", path, before.Mode(), after, err)
		}
		if got, _ := os.Readlink(path); got != link {
			t.Errorf("%s points to %q, want %q", path, got, link)
		}
		if got := listDir(t, filepath.Dir(path)); got != entries {
			t.Errorf("directory holds %s, want %s", got, entries)
		}
	}
}

func listDir(t *testing.T, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return strings.Join(names, " ")
}

// TestToFileRefusesNonRegular: ToFile renames a new file over its path, so
// a device, pipe, socket or symbolic link there would be replaced rather
// than written to. It refuses them, with --force or without, before the
// backup is downloaded, and says what the path is, where a link leads and
// what to pass instead.
func TestToFileRefusesNonRegular(t *testing.T) {
	repo, m, _ := storedBackup(t)
	tests := []struct {
		name string
		make func(t *testing.T, base, path string)
		want []string // in the error besides the path
		bad  bool     // wraps ErrBadRequest; a directory is a plain failure
	}{
		{"character device", func(t *testing.T, _, path string) {
			requireRoot(t, "mknod of a character device needs root")
			if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
				t.Fatal(err)
			}
		}, []string{"is a character device", "--to-file -"}, true},
		{"FIFO", func(t *testing.T, _, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"is a named pipe (FIFO)", "--to-file -"}, true},
		{"socket", func(t *testing.T, _, path string) {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, []string{"is a socket", "--to-file -"}, true},
		{"symlink to a regular file", func(t *testing.T, base, path string) {
			file := filepath.Join(base, "other", "real.rdb")
			if err := os.Mkdir(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if b, err := os.ReadFile(file); string(b) != "old" {
					t.Errorf("the link's target holds %q (%v), want it untouched", b, err)
				}
			})
			if err := os.Symlink("../other/real.rdb", path); err != nil {
				t.Fatal(err)
			}
		}, []string{"is a symbolic link to ../other/real.rdb", "--to-file other/real.rdb"}, true},
		{"dangling symlink", func(t *testing.T, base, path string) {
			if err := os.Symlink("../missing/x.rdb", path); err != nil {
				t.Fatal(err)
			}
		}, []string{"is a symbolic link to ../missing/x.rdb", "--to-file missing/x.rdb"}, true},
		{"symlink to a device", func(t *testing.T, _, path string) {
			if err := os.Symlink("/dev/null", path); err != nil {
				t.Fatal(err)
			}
		}, []string{"is a symbolic link to /dev/null, a character device", "--to-file -"}, true},
		{"symlink to a directory", func(t *testing.T, base, path string) {
			if err := os.Mkdir(filepath.Join(base, "other"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../other", path); err != nil {
				t.Fatal(err)
			}
		}, []string{"is a symbolic link to ../other, a directory", "e.g. dst/dump.rdb/dump.rdb"}, false},
		{"directory", func(t *testing.T, _, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}, []string{"is a directory", "e.g. dst/dump.rdb/dump.rdb"}, false},
	}
	for _, tt := range tests {
		for _, force := range []bool{false, true} {
			name := tt.name
			if force {
				name += ", --force"
			}
			t.Run(name, func(t *testing.T) {
				base := t.TempDir()
				if err := os.Mkdir(filepath.Join(base, "dst"), 0o755); err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(base, "dst", "dump.rdb")
				tt.make(t, base, path)
				unchanged := mustNotChange(t, path)
				t.Chdir(base) // so that a relative --to-file is relative to base
				rel := filepath.Join("dst", "dump.rdb")
				downloaded := false
				_, err := restore.ToFile(t.Context(), repo, m, rel, restore.FileOptions{Overwrite: force, Counter: func(int) { downloaded = true }})
				if err == nil || errors.Is(err, restore.ErrBadRequest) != tt.bad {
					t.Fatalf("ToFile = %v, want an error, ErrBadRequest: %v", err, tt.bad)
				}
				for _, w := range append([]string{"restore to " + rel + ":"}, tt.want...) {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if downloaded {
					t.Error("the backup was downloaded before the refusal")
				}
				unchanged()
			})
		}
	}
}

// TestToFileRechecksBeforeRename: what is at the path is looked at again
// after the download, right before the rename; a path that became a
// symbolic link or a pipe meanwhile, or a file that appeared without
// --force, is left alone, and the temporary file is removed.
func TestToFileRechecksBeforeRename(t *testing.T) {
	repo, m, _ := storedBackup(t)
	tests := []struct {
		name  string
		force bool
		swap  func(path string) error
		want  string
	}{
		{"became a symlink", true, func(path string) error {
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.Symlink("elsewhere.rdb", path)
		}, "is a symbolic link to elsewhere.rdb"},
		{"became a FIFO", true, func(path string) error {
			if err := os.Remove(path); err != nil {
				return err
			}
			return syscall.Mkfifo(path, 0o600)
		}, "is a named pipe"},
		{"a file appeared, no --force", false, func(path string) error {
			return os.WriteFile(path, []byte("theirs"), 0o600)
		}, "pass --force"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dump.rdb")
			if tt.force {
				if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var (
				once    sync.Once
				swapped os.FileInfo
				swapErr error
			)
			swap := func(int) {
				once.Do(func() {
					if swapErr = tt.swap(path); swapErr == nil {
						swapped, swapErr = os.Lstat(path)
					}
				})
			}
			_, err := restore.ToFile(t.Context(), repo, m, path, restore.FileOptions{Overwrite: tt.force, Counter: swap})
			if swapErr != nil || swapped == nil {
				t.Fatalf("swap: %v", swapErr)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ToFile = %v, want an error saying %q", err, tt.want)
			}
			if now, err := os.Lstat(path); err != nil || !os.SameFile(now, swapped) {
				t.Errorf("%s was replaced after the swap (%v)", path, err)
			}
			if got := listDir(t, filepath.Dir(path)); got != "dump.rdb" {
				t.Errorf("directory holds %s, want dump.rdb only", got)
			}
		})
	}
}

// TestToFileKeepsOwnerAndMode: a restore over an existing file keeps its
// permission bits and owner, so a Redis running as its own user can load
// the result; a new file is 0640 and ours.
func TestToFileKeepsOwnerAndMode(t *testing.T) {
	repo, m, rdb := storedBackup(t)
	ours := [2]int{os.Geteuid(), os.Getegid()}
	tests := []struct {
		name  string
		old   bool
		owner [2]int // uid, gid; of the old file and wanted of the new one
		mode  os.FileMode
	}{
		{"new file", false, ours, 0o640},
		{"our file, 0600", true, ours, 0o600},
		{"nobody's file, 0644", true, [2]int{65534, 65534}, 0o644},
		{"our file, group nogroup, 0660", true, [2]int{ours[0], 65534}, 0o660},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.owner != ours {
				requireRoot(t, "chown to another owner needs root")
			}
			path := filepath.Join(t.TempDir(), "dump.rdb")
			if tt.old {
				if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(path, tt.owner[0], tt.owner[1]); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := restore.ToFile(t.Context(), repo, m, path, restore.FileOptions{Overwrite: tt.old}); err != nil {
				t.Fatal(err)
			}
			st, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			sys := st.Sys().(*syscall.Stat_t)
			if got := [2]int{int(sys.Uid), int(sys.Gid)}; got != tt.owner || st.Mode() != tt.mode {
				t.Errorf("got %v owned by %v, want %v owned by %v", st.Mode(), got, tt.mode, tt.owner)
			}
			if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, rdb) {
				t.Errorf("the file holds %d bytes (%v), want the %d of the backup", len(b), err, len(rdb))
			}
		})
	}
}
