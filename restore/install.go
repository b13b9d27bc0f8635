package restore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Suffixes of the files a restore leaves beside Redis's own.
const (
	TempSuffix       = ".rdbak-tmp"
	PreRestoreSuffix = ".pre-restore"
)

// AOF describes how Redis persists: which files it loads at startup.
type AOF struct {
	// Mode is "" (appendonly no: Redis loads dbfilename), "multipart"
	// (Redis 7+: appenddirname with a manifest) or "single" (before 7: one
	// appendfilename, which may start with an RDB preamble).
	Mode     string
	DirName  string // appenddirname, multipart only
	FileName string // appendfilename
}

// Install describes one installation of an RDB into Redis's data dir.
type Install struct {
	Dir        string // Redis's dir
	DBFilename string
	Size       int64  // expected RDB length
	SHA256     string // expected RDB digest, hex
	AOF        AOF
}

// Installed reports what Install did, for the caller's log.
type Installed struct {
	Path       string   `json:"path"`
	Size       int64    `json:"size"`
	SHA256     string   `json:"sha256"`
	PreRestore []string `json:"preRestore,omitempty"` // previous files kept for a rollback
	AOFFiles   []string `json:"aofFiles,omitempty"`
}

// Receive reads an RDB from r into Redis's data dir the safe way: it writes
// <dbfilename>.rdbak-tmp, fsyncs it, checks its length and SHA-256 against
// what the sender verified, and only then keeps the previous file as
// <dbfilename>.pre-restore and renames the new one into place. With AOF on,
// it installs the RDB where Redis will load it instead of dump.rdb. A short
// or wrong stream leaves every live file untouched.
func Receive(r io.Reader, in Install) (*Installed, error) {
	if in.DBFilename == "" || filepath.Base(in.DBFilename) != in.DBFilename {
		return nil, fmt.Errorf("dbfilename %q must be a plain file name", in.DBFilename)
	}
	final := filepath.Join(in.Dir, in.DBFilename)
	tmp := final + TempSuffix
	owner, err := ownerOf(in.Dir)
	if err != nil {
		return nil, err
	}
	n, sum, err := writeFile(tmp, r, owner)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if n != in.Size || sum != in.SHA256 {
		os.Remove(tmp)
		return nil, fmt.Errorf("received %d bytes with SHA-256 %s, expected %d bytes with %s: the stream was cut or altered; nothing was replaced", n, sum, in.Size, in.SHA256)
	}
	out := &Installed{Path: final, Size: n, SHA256: sum}
	// From here on live files change, each by one rename.
	if kept, err := keepPrevious(final); err != nil {
		os.Remove(tmp)
		return nil, err
	} else if kept != "" {
		out.PreRestore = append(out.PreRestore, kept)
	}
	if err := os.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("rename %s over %s: %w", tmp, final, err)
	}
	if err := syncDir(in.Dir); err != nil {
		return nil, err
	}
	switch in.AOF.Mode {
	case "":
	case "multipart":
		if err := installMultipartAOF(in, final, owner, out); err != nil {
			return nil, err
		}
	case "single":
		if err := installSingleAOF(in, final, owner, out); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown AOF mode %q", in.AOF.Mode)
	}
	return out, nil
}

// installMultipartAOF sets the AOF directory aside and makes a new one
// whose manifest lists the RDB as its base: Redis 7+ then loads the
// restored data at startup and keeps AOF on.
func installMultipartAOF(in Install, rdbPath string, owner *fileOwner, out *Installed) error {
	if in.AOF.DirName == "" || in.AOF.FileName == "" || filepath.Base(in.AOF.DirName) != in.AOF.DirName || filepath.Base(in.AOF.FileName) != in.AOF.FileName {
		return fmt.Errorf("appenddirname %q and appendfilename %q must be plain names", in.AOF.DirName, in.AOF.FileName)
	}
	dir := filepath.Join(in.Dir, in.AOF.DirName)
	next := dir + TempSuffix
	os.RemoveAll(next)
	if err := os.Mkdir(next, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", next, err)
	}
	base := in.AOF.FileName + ".1.base.rdb"
	src, err := os.Open(rdbPath)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, _, err := writeFile(filepath.Join(next, base), src, owner); err != nil {
		return err
	}
	manifest := fmt.Sprintf("file %s seq 1 type b\n", base)
	mf := in.AOF.FileName + ".manifest"
	if _, _, err := writeFile(filepath.Join(next, mf), strings.NewReader(manifest), owner); err != nil {
		return err
	}
	if err := owner.apply(next); err != nil {
		return err
	}
	if err := syncDir(next); err != nil {
		return err
	}
	if kept, err := keepPrevious(dir); err != nil {
		return err
	} else if kept != "" {
		out.PreRestore = append(out.PreRestore, kept)
	}
	if err := os.Rename(next, dir); err != nil {
		return fmt.Errorf("rename %s over %s: %w", next, dir, err)
	}
	out.AOFFiles = []string{filepath.Join(dir, base), filepath.Join(dir, mf)}
	return syncDir(in.Dir)
}

// installSingleAOF writes the RDB as the AOF file of Redis < 7, which loads
// an AOF that starts with "REDIS" as an RDB preamble.
func installSingleAOF(in Install, rdbPath string, owner *fileOwner, out *Installed) error {
	if in.AOF.FileName == "" || filepath.Base(in.AOF.FileName) != in.AOF.FileName {
		return fmt.Errorf("appendfilename %q must be a plain name", in.AOF.FileName)
	}
	aof := filepath.Join(in.Dir, in.AOF.FileName)
	src, err := os.Open(rdbPath)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, _, err := writeFile(aof+TempSuffix, src, owner); err != nil {
		return err
	}
	if kept, err := keepPrevious(aof); err != nil {
		return err
	} else if kept != "" {
		out.PreRestore = append(out.PreRestore, kept)
	}
	if err := os.Rename(aof+TempSuffix, aof); err != nil {
		return err
	}
	out.AOFFiles = []string{aof}
	return syncDir(in.Dir)
}

// keepPrevious renames path to path.pre-restore, replacing the one an
// earlier restore kept. It returns "" when there was nothing to keep.
func keepPrevious(path string) (string, error) {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	kept := path + PreRestoreSuffix
	if err := os.RemoveAll(kept); err != nil {
		return "", fmt.Errorf("remove the previous %s: %w", kept, err)
	}
	if err := os.Rename(path, kept); err != nil {
		return "", fmt.Errorf("keep %s as %s: %w", path, kept, err)
	}
	return kept, nil
}

// writeFile writes r to path (created or truncated), fsyncs it, gives it
// the data dir's owner and returns its length and SHA-256.
func writeFile(path string, r io.Reader, owner *fileOwner) (int64, string, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, "", fmt.Errorf("create %s: %w", path, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = owner.apply(path)
	}
	if err != nil {
		return n, "", fmt.Errorf("write %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// fileOwner is the uid/gid new files get, so that a Redis running as a
// non-root user can read and rewrite what a root restore wrote.
type fileOwner struct{ uid, gid int }

func ownerOf(dir string) (*fileOwner, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("data dir %s is not a directory", dir)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return nil, nil
	}
	return &fileOwner{uid: int(sys.Uid), gid: int(sys.Gid)}, nil
}

func (o *fileOwner) apply(path string) error {
	if o == nil || os.Geteuid() != 0 {
		return nil
	}
	if err := os.Lchown(path, o.uid, o.gid); err != nil {
		return fmt.Errorf("give %s to %s:%s: %w", path, strconv.Itoa(o.uid), strconv.Itoa(o.gid), err)
	}
	return nil
}
