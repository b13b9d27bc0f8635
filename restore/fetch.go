// Package restore gets backups back out of storage: verified against their
// manifest on the way, and committed only after every check has passed.
//
// Invariants: nothing is written where the user will look for it (a file
// path, later a Redis data volume) until the whole backup has been read,
// decompressed, parsed, and its sizes, SHA-256 digests and RDB CRC-64 match
// the manifest; a failed or cancelled restore leaves the destination as it
// was.
package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/storage"
)

// ErrVerify means a backup failed verification: the stored bytes, the RDB
// inside them, or both, do not match the manifest, or the RDB is damaged.
var ErrVerify = errors.New("backup failed verification")

// Report is what Fetch checked.
type Report struct {
	StoredSize int64
	RawSize    int64
	RDB        rdb.Info
	// StaleTemps are temporary files of killed restores to the same path
	// that ToFile removed.
	StaleTemps []string
}

// Fetch reads backup m from repo, decompresses it, writes the RDB to w and
// checks everything against the manifest: stored size and SHA-256, raw
// size and SHA-256, the RDB's structure and CRC-64, and its key counts.
// Bytes reach w before the checks finish; treat them as unverified until
// Fetch returns nil. counter, if not nil, is told of each raw byte.
//
// Errors wrap ErrVerify when the backup itself is bad; a failing bucket
// read or a failing w is returned as such, since the backup may be fine.
func Fetch(ctx context.Context, repo *storage.Repo, m *storage.Manifest, w io.Writer, counter func(n int)) (*Report, error) {
	body, err := repo.OpenData(ctx, m)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	stored := &digest{h: sha256.New()}
	tee := io.TeeReader(sourceReader{body}, stored)
	dec, err := codec.NewReader(tee, m.Data.Compression.Codec)
	if err != nil {
		return nil, classify(ctx, m, err)
	}
	defer dec.Close()
	raw := &digest{h: sha256.New(), counter: counter}
	info, err := rdb.Copy(io.MultiWriter(destination{w}, raw), dec)
	if err != nil {
		return nil, classify(ctx, m, err)
	}
	// The compressed stream must end where the object ends.
	if n, err := io.Copy(io.Discard, tee); err != nil {
		return nil, classify(ctx, m, err)
	} else if n > 0 {
		return nil, fmt.Errorf("%w: backup %s: %d bytes after the end of the %s stream", ErrVerify, m.ID, n, m.Data.Compression.Codec)
	}
	rep := &Report{StoredSize: stored.n, RawSize: raw.n, RDB: info}
	return rep, check(m, rep, stored.sum(), raw.sum())
}

// classify tells a bad backup (ErrVerify) from a failing bucket or
// destination, whose errors sourceReader and destination tagged.
func classify(ctx context.Context, m *storage.Manifest, err error) error {
	var src sourceError
	var dst destError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("read backup %s: %w", m.ID, context.Cause(ctx))
	case errors.As(err, &dst):
		return dst.err
	case errors.As(err, &src):
		return fmt.Errorf("read backup %s: %w", m.ID, src.err)
	}
	return fmt.Errorf("%w: backup %s: %w", ErrVerify, m.ID, err)
}

func check(m *storage.Manifest, rep *Report, storedSum, rawSum string) error {
	var errs []error
	mismatch := func(what string, got, want any) {
		errs = append(errs, fmt.Errorf("%s is %v, the manifest says %v", what, got, want))
	}
	if rep.StoredSize != m.Data.StoredSize {
		mismatch("stored size", rep.StoredSize, m.Data.StoredSize)
	}
	if storedSum != m.Data.StoredSHA256 {
		mismatch("stored SHA-256", storedSum, m.Data.StoredSHA256)
	}
	if rep.RawSize != m.Data.RawSize {
		mismatch("RDB size", rep.RawSize, m.Data.RawSize)
	}
	if rawSum != m.Data.RawSHA256 {
		mismatch("RDB SHA-256", rawSum, m.Data.RawSHA256)
	}
	if crc := fmt.Sprintf("%016x", rep.RDB.Checksum); crc != m.RDB.CRC64 {
		mismatch("RDB CRC-64", crc, m.RDB.CRC64)
	}
	if rep.RDB.Version != m.RDB.Version {
		mismatch("RDB version", rep.RDB.Version, m.RDB.Version)
	}
	if got, want := rep.RDB.KeysTotal(), m.Keys(); got != want {
		mismatch("key count", got, want)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: backup %s: %w", ErrVerify, m.ID, errors.Join(errs...))
}

// digest hashes and counts what is written to it.
type digest struct {
	h       hash.Hash
	n       int64
	counter func(int)
}

func (d *digest) Write(p []byte) (int, error) {
	d.h.Write(p)
	d.n += int64(len(p))
	if d.counter != nil {
		d.counter(len(p))
	}
	return len(p), nil
}

func (d *digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// sourceReader tags errors of the bucket read, other than io.EOF.
type sourceReader struct{ r io.Reader }

type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }
func (e sourceError) Unwrap() error { return e.err }

func (s sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = sourceError{err}
	}
	return n, err
}

// destination tags errors of the writer the RDB goes to.
type destination struct{ w io.Writer }

type destError struct{ err error }

func (e destError) Error() string { return e.err.Error() }
func (e destError) Unwrap() error { return e.err }

func (d destination) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if err != nil {
		err = destError{err}
	}
	return n, err
}
