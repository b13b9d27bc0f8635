package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/storage"
)

// SourceImport is the manifest source kind of a backup made from an
// existing RDB file rather than from a running server.
const SourceImport = "import"

// ImportSource serves an existing RDB file, such as a dump.rdb copied out of
// a pod by hand, as a snapshot.
type ImportSource struct {
	Files FileReader
	Path  string
}

var _ Source = (*ImportSource)(nil)

// Open implements Source.
func (s *ImportSource) Open(ctx context.Context) (*Stream, error) {
	body, size, err := s.Files.OpenFile(ctx, s.Path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.Path, err)
	}
	return &Stream{Body: body, Size: size, Origin: "import " + s.Path}, nil
}

// ErrCTime means an imported file's ctime AUX field is no time it can
// have been made at: before Redis existed or in the future. Taken as the
// backup's creation time, it would sort first or stay latest for ever (or
// not encode at all, past year 9999).
var ErrCTime = errors.New("the RDB's ctime is not a plausible creation time: give the time it was made with --created")

// minCTime is before any Redis wrote an RDB file.
var minCTime = time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)

// Import brings the RDB file at path into repo as a backup of o.Target,
// verified and compressed like any backup, with source kind "import". Unless
// o.Created is set, the backup's created time is the RDB's ctime AUX field:
// when the snapshot was taken, not when it was imported (the time of the
// import when the file has none). The file is read twice, once to learn and
// check its ctime and once to store it; a file that fails verification is
// refused before anything is written.
func Import(ctx context.Context, files FileReader, path string, repo *storage.Repo, o Options) (*Result, error) {
	src := &ImportSource{Files: files, Path: path}
	if o.Created.IsZero() {
		st, err := src.Open(ctx)
		if err != nil {
			return nil, err
		}
		info, err := rdb.Copy(io.Discard, st.Body)
		st.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("verify %s: %w", path, err)
		}
		if t, ok := info.CTime(); ok {
			if t.Before(minCTime) || t.After(time.Now().Add(24*time.Hour)) {
				return nil, fmt.Errorf("%w: %s says it was created at %s", ErrCTime, path, t.UTC().Format(time.RFC3339))
			}
			o.Created = t
		}
	}
	o.SourceKind = SourceImport
	o.Server = nil
	return Run(ctx, src, repo, o)
}
