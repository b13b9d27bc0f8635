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

	"github.com/rdbak/rdbak/internal/codec"
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
	// Codec is the compression of the stream Stage reads: "" or "none"
	// for the RDB itself, else a codec (zstd, gzip) that Stage decodes,
	// so that the compressed backup, smaller, is what crosses the network.
	Codec string
}

// Installed reports what Install did, for the caller's log.
type Installed struct {
	Path       string   `json:"path"`
	Size       int64    `json:"size"`
	SHA256     string   `json:"sha256"`
	PreRestore []string `json:"preRestore,omitempty"` // previous files kept for a rollback
	AOFFiles   []string `json:"aofFiles,omitempty"`
}

// Receive reads an RDB from r into Redis's data dir the safe way: Stage,
// then Commit. A short or wrong stream leaves every live file untouched.
func Receive(r io.Reader, in Install) (*Installed, error) {
	if err := Stage(r, in); err != nil {
		return nil, err
	}
	return Commit(in)
}

// Staged lists the files Stage writes beside the live data: names Redis
// never loads (it reads only dbfilename and, with AOF, appenddirname's
// manifest or appendfilename), so a Redis that starts while they exist, or
// a restore killed before Commit, leaves what Redis loads as it was.
func Staged(in Install) []string {
	final := filepath.Join(in.Dir, in.DBFilename)
	out := []string{final + TempSuffix}
	switch in.AOF.Mode {
	case "multipart":
		out = append(out, filepath.Join(in.Dir, in.AOF.DirName)+TempSuffix)
	case "single":
		out = append(out, filepath.Join(in.Dir, in.AOF.FileName)+TempSuffix)
	}
	return out
}

// Stage writes the RDB from r (decoded first when in.Codec says so)
// beside the live data while Redis still runs on it: <dbfilename>.rdbak-tmp,
// fsynced, its length and SHA-256 checked against the manifest's, which
// pin every byte; with AOF on it also prepares what
// Redis will load (a new appenddirname.rdbak-tmp with the RDB as its base,
// or appendfilename.rdbak-tmp). Nothing live changes; on failure nothing
// staged is left.
func Stage(r io.Reader, in Install) error {
	if err := checkNames(in); err != nil {
		return err
	}
	owner, err := ownerOf(in.Dir)
	if err != nil {
		return err
	}
	// A staged file a killed restore left behind is replaced.
	if err := Discard(in); err != nil {
		return err
	}
	tmp := Staged(in)[0]
	n, sum, err := writeDecoded(tmp, r, in.Codec, owner)
	if err == nil && (n != in.Size || sum != in.SHA256) {
		err = fmt.Errorf("received %d bytes with SHA-256 %s, expected %d bytes with %s: the stream was cut or altered; nothing was replaced", n, sum, in.Size, in.SHA256)
	}
	if err == nil {
		switch in.AOF.Mode {
		case "":
		case "multipart":
			err = stageMultipartAOF(in, tmp, owner)
		case "single":
			err = stageSingleAOF(in, tmp, owner)
		}
	}
	if err == nil {
		err = syncDir(in.Dir)
	}
	if err != nil {
		return errors.Join(err, Discard(in))
	}
	return nil
}

// Commit swaps the staged files in for the live ones, each by one atomic
// exchange (renameat2 RENAME_EXCHANGE where the file system has it), so
// that the path Redis loads always holds either the previous or the
// restored data, never nothing; the previous files are kept as
// .pre-restore. Redis must not be running, or must not save, while it
// runs.
func Commit(in Install) (*Installed, error) {
	if err := checkNames(in); err != nil {
		return nil, err
	}
	final := filepath.Join(in.Dir, in.DBFilename)
	staged := Staged(in)
	for _, p := range staged {
		if _, err := os.Lstat(p); err != nil {
			return nil, fmt.Errorf("staged file %s: %w: stage the backup again", p, err)
		}
	}
	out := &Installed{Path: final, Size: in.Size, SHA256: in.SHA256}
	if kept, err := swapIn(staged[0], final); err != nil {
		return nil, err
	} else if kept != "" {
		out.PreRestore = append(out.PreRestore, kept)
	}
	switch in.AOF.Mode {
	case "multipart":
		dir := filepath.Join(in.Dir, in.AOF.DirName)
		kept, err := swapIn(staged[1], dir)
		if err != nil {
			return nil, err
		}
		if kept != "" {
			out.PreRestore = append(out.PreRestore, kept)
		}
		out.AOFFiles = []string{filepath.Join(dir, in.AOF.FileName+".1.base.rdb"), filepath.Join(dir, in.AOF.FileName+".manifest")}
	case "single":
		aof := filepath.Join(in.Dir, in.AOF.FileName)
		kept, err := swapIn(staged[1], aof)
		if err != nil {
			return nil, err
		}
		if kept != "" {
			out.PreRestore = append(out.PreRestore, kept)
		}
		out.AOFFiles = []string{aof}
	}
	return out, nil
}

// Discard removes what Stage wrote. Called after Commit it removes nothing
// Commit installed.
func Discard(in Install) error {
	var errs []error
	for _, p := range Staged(in) {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove staged %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

func checkNames(in Install) error {
	if in.DBFilename == "" || filepath.Base(in.DBFilename) != in.DBFilename {
		return fmt.Errorf("dbfilename %q must be a plain file name", in.DBFilename)
	}
	switch in.AOF.Mode {
	case "":
	case "multipart":
		if in.AOF.DirName == "" || in.AOF.FileName == "" || filepath.Base(in.AOF.DirName) != in.AOF.DirName || filepath.Base(in.AOF.FileName) != in.AOF.FileName {
			return fmt.Errorf("appenddirname %q and appendfilename %q must be plain names", in.AOF.DirName, in.AOF.FileName)
		}
	case "single":
		if in.AOF.FileName == "" || filepath.Base(in.AOF.FileName) != in.AOF.FileName {
			return fmt.Errorf("appendfilename %q must be a plain name", in.AOF.FileName)
		}
	default:
		return fmt.Errorf("unknown AOF mode %q", in.AOF.Mode)
	}
	return nil
}

// swapIn puts staged at live and keeps what was at live as
// live.pre-restore (replacing an earlier one); it returns that name, or ""
// when live did not exist. With an atomic exchange live is never missing;
// without one (file systems without RENAME_EXCHANGE) there is a moment
// between two renames where it is.
func swapIn(staged, live string) (string, error) {
	dir := filepath.Dir(live)
	if _, err := os.Lstat(live); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(staged, live); err != nil {
			return "", fmt.Errorf("rename %s to %s: %w", staged, live, err)
		}
		return "", syncDir(dir)
	}
	kept := live + PreRestoreSuffix
	if err := os.RemoveAll(kept); err != nil {
		return "", fmt.Errorf("remove the previous %s: %w", kept, err)
	}
	if err := exchange(staged, live); err == nil {
		// staged now holds the previous data.
		if err := os.Rename(staged, kept); err != nil {
			return "", fmt.Errorf("keep the previous %s as %s: %w", live, kept, err)
		}
		return kept, syncDir(dir)
	}
	if err := os.Rename(live, kept); err != nil {
		return "", fmt.Errorf("keep %s as %s: %w", live, kept, err)
	}
	if err := os.Rename(staged, live); err != nil {
		return "", fmt.Errorf("rename %s over %s: %w", staged, live, err)
	}
	return kept, syncDir(dir)
}

// stageMultipartAOF prepares appenddirname.rdbak-tmp, whose manifest
// lists a copy of the RDB as its base: once swapped in, Redis 7+ loads the
// restored data at startup and keeps AOF on.
func stageMultipartAOF(in Install, rdbPath string, owner *fileOwner) error {
	next := Staged(in)[1]
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
	return syncDir(next)
}

// stageSingleAOF copies the RDB to appendfilename.rdbak-tmp, the AOF of
// Redis < 7, which loads an AOF that starts with "REDIS" as an RDB
// preamble. A copy, not a link: Redis appends to that file in place.
func stageSingleAOF(in Install, rdbPath string, owner *fileOwner) error {
	src, err := os.Open(rdbPath)
	if err != nil {
		return err
	}
	defer src.Close()
	_, _, err = writeFile(Staged(in)[1], src, owner)
	return err
}

// writeDecoded is writeFile of the stream r decoded by codecName. The
// decoder runs in goroutines of its own, so that decoding and hashing
// share the cores. Bytes after the compressed stream are not looked for:
// the sender checks the stored object's digest, and the RDB's pins what
// is written.
func writeDecoded(path string, r io.Reader, codecName string, owner *fileOwner) (int64, string, error) {
	if codecName == "" || codecName == "none" {
		return writeFile(path, r, owner)
	}
	dec, err := codec.NewReader(r, codecName)
	if err != nil {
		return 0, "", err
	}
	defer dec.Close()
	return writeFile(path, decoding{dec, codecName}, owner)
}

// decoding names the stream in the errors of its decoder.
type decoding struct {
	r     io.Reader
	codec string
}

func (d decoding) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("the %s stream does not decode (it was cut or altered; nothing was replaced): %w", d.codec, err)
	}
	return n, err
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
