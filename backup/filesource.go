package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/rdbak/rdbak/internal/rdb"
)

// FileSource takes a snapshot with BGSAVE and then reads the file Redis
// wrote, through a FileReader: on this machine (LocalFiles) or in a pod.
type FileSource struct {
	Server Server
	Files  FileReader
	// Dir and DBFilename override CONFIG GET dir / dbfilename, for servers
	// where CONFIG is renamed or disabled.
	Dir, DBFilename string
	Snapshot        SnapshotOptions
	// Where names the place of the files in Origin, e.g. "pod prod/redis-0".
	Where string
}

var _ Source = (*FileSource)(nil)

// Open implements Source.
func (f *FileSource) Open(ctx context.Context) (*Stream, error) {
	p, err := f.Path(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := Snapshot(ctx, f.Server, f.Snapshot)
	if err != nil {
		return nil, err
	}
	repl, err := f.Server.Info(ctx, "replication")
	if err != nil {
		return nil, fmt.Errorf("read INFO replication: %w", err)
	}
	// A later save may rename a newer file over p before it is opened;
	// that snapshot is newer still, and the open file stays consistent.
	if f.Snapshot.Log != nil {
		f.Snapshot.Log.DebugContext(ctx, "open the snapshot file", "path", p, "where", f.Where)
	}
	body, size, err := f.Files.OpenFile(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	origin := "file " + p
	if f.Where != "" {
		origin = "file " + f.Where + ":" + p
	}
	cow := func(context.Context) int64 { return snap.COWBytes }
	accept := func(in rdb.Info) error { return fresh(in, p, snap.Requested, repl.Replication.MasterReplID) }
	return &Stream{Body: body, Size: size, Origin: origin, ForkCost: cow, Accept: accept}, nil
}

// ErrStaleFile means the file read after the BGSAVE is not the one that
// BGSAVE wrote: an older dump, or another server's.
var ErrStaleFile = errors.New("the dump file is not the snapshot Redis just wrote")

// fresh checks that the RDB read from path is the one the save requested
// at requested (server clock, whole seconds; zero when unknown) wrote: its
// ctime is not older, and its repl-id, when it has one, is the server's
// replication id. A wrong dir or dbfilename override, or a volume that is
// not Redis's, shows up here instead of as a backup of old or foreign data.
//
// The two readings come from different clocks: INFO's server_time_usec
// from gettimeofday, the ctime Redis writes from time(), which on Linux
// reads the coarse clock and can be a tick behind. A small dataset saved
// just after a second began gets a ctime one second before the request
// (seen on the testbed), so a ctime of the previous second passes.
func fresh(in rdb.Info, path string, requested time.Time, replID string) error {
	if ct, ok := in.CTime(); ok && !requested.IsZero() && ct.Before(requested.Add(-time.Second)) {
		return fmt.Errorf("%w: %s was created at %s, before the snapshot was requested at %s (server clock): check that dir and dbfilename name this Redis's data",
			ErrStaleFile, path, ct.UTC().Format(time.RFC3339), requested.UTC().Format(time.RFC3339))
	}
	if id := in.Aux["repl-id"]; id != "" && replID != "" && id != replID {
		return fmt.Errorf("%w: %s holds the data of replication id %s, but the server's is %s: check that dir and dbfilename name this Redis's data",
			ErrStaleFile, path, id, replID)
	}
	return nil
}

// Path returns where Redis writes its RDB: dir/dbfilename, from the
// overrides or CONFIG GET.
func (f *FileSource) Path(ctx context.Context) (string, error) {
	dir, name := f.Dir, f.DBFilename
	var err error
	if dir == "" {
		if dir, err = f.Server.ConfigGet(ctx, "dir"); err != nil {
			return "", fmt.Errorf("learn the data dir: %w (set dir in the target to skip CONFIG GET)", err)
		}
	}
	if name == "" {
		if name, err = f.Server.ConfigGet(ctx, "dbfilename"); err != nil {
			return "", fmt.Errorf("learn the RDB file name: %w (set dbfilename in the target to skip CONFIG GET)", err)
		}
	}
	if !path.IsAbs(dir) || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("redis reports dir %q and dbfilename %q: need an absolute dir and a plain file name", dir, name)
	}
	return path.Join(dir, name), nil
}

// LocalFiles reads files on this machine: for rdbak running beside Redis.
type LocalFiles struct{}

var _ FileReader = LocalFiles{}

// OpenFile implements FileReader. Its errors do not repeat p: callers name
// the file, as they must for readers whose errors do not.
func (LocalFiles) OpenFile(_ context.Context, p string) (io.ReadCloser, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, withoutPath(err)
	}
	st, err := f.Stat()
	if err == nil && st.IsDir() {
		err = errors.New("it is a directory; give the path of the RDB file")
	}
	if err != nil {
		f.Close()
		return nil, 0, withoutPath(err)
	}
	if !st.Mode().IsRegular() {
		// A pipe or a device (<(zcat dump.rdb.gz), /dev/stdin) has no
		// size to hold it to: it is read to its end, as - is.
		return f, -1, nil
	}
	return &exactReader{r: f, c: f, left: st.Size(), name: p}, st.Size(), nil
}

// withoutPath is err without the *fs.PathError that names the file.
func withoutPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// exactReader yields exactly left bytes and turns an early end into
// io.ErrUnexpectedEOF, so a file truncated while read is never mistaken for
// a complete one.
type exactReader struct {
	r    io.Reader
	c    io.Closer
	left int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		return n, fmt.Errorf("read %s: %d bytes missing: %w", e.name, e.left, io.ErrUnexpectedEOF)
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

func (e *exactReader) Close() error { return e.c.Close() }
