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
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"

	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/internal/pipe"
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

// ErrNeedIdentity means the backup is encrypted and no identity was given
// to decrypt it. Nothing was read or written.
var ErrNeedIdentity = fmt.Errorf("%w: %w", ErrBadRequest, crypt.ErrNoIdentity)

// FetchOptions are the optional parts of a Fetch.
type FetchOptions struct {
	// Counter, if set, is told of each raw byte.
	Counter func(n int)
	// Identities decrypt an encrypted backup (several may be given after
	// a key rotation); unused for an unencrypted one.
	Identities *crypt.Identities
	// SkipRawSHA256 leaves the RDB's SHA-256 unchecked when the manifest
	// says the RDB carries a CRC-64 (Redis's default, rdbchecksum yes),
	// which then must verify. What a restore writes is still pinned: the
	// stored object's SHA-256 fixes every byte that is decoded, the codec's
	// own checksum (zstd's XXH64 of the compressor's input, gzip's CRC-32)
	// catches a stream that does not decode to what was compressed, and
	// Redis's CRC-64 checks the RDB end to end. It saves a third of a
	// restore's CPU; verify keeps every check.
	SkipRawSHA256 bool
}

// CheckDecryptable returns ErrNeedIdentity, naming what to give, when m is
// encrypted and ids is empty, so a restore fails before it starts.
func CheckDecryptable(m *storage.Manifest, ids *crypt.Identities) error {
	if m.Data.Encrypted() && ids.Len() == 0 {
		if m.IsSet() {
			return fmt.Errorf("%w: backup set %s is encrypted with %s to %d recipient(s): give the identity that decrypts it with --identity-file (or encryption.identityFile or identitySecret in the config)",
				ErrNeedIdentity, m.ID, m.Data.Encryption.Scheme, len(m.Data.Encryption.Recipients))
		}
		return fmt.Errorf("%w: backup %s is encrypted with %s to %d recipient(s): give the identity that decrypts it with --identity-file (or encryption.identityFile or identitySecret in the config)",
			ErrNeedIdentity, m.ID, m.Data.Encryption.Scheme, len(m.Data.Encryption.Recipients))
	}
	return nil
}

// Fetch reads backup m from repo, decrypts and decompresses it, writes the
// RDB to w and checks everything against the manifest: stored size and
// SHA-256, raw size and SHA-256 (unless o.SkipRawSHA256 may leave it out),
// the RDB's structure and CRC-64, and its key counts. Bytes reach w before
// the checks finish; treat them as
// unverified until Fetch returns nil. w only ever sees decrypted data.
//
// Errors wrap ErrVerify when the backup itself is bad or no identity
// decrypts it (also crypt.ErrWrongIdentity); ErrNeedIdentity when it is
// encrypted and o has no identity; a failing bucket read or a failing w is
// returned as such, since the backup may be fine.
func Fetch(ctx context.Context, repo *storage.Repo, m *storage.Manifest, w io.Writer, o FetchOptions) (*Report, error) {
	// Goroutines share the work between the cores: one reads the object
	// and hashes it (open), the decoder's decrypt and decompress (see
	// codec.NewReader), and this one verifies the RDB (and hashes it) and
	// writes it. Copy reads dec to its EOF, after which plain is no longer
	// read by the decoder.
	src, err := open(ctx, repo, m, o.Identities)
	if err != nil {
		return nil, err
	}
	defer src.close()
	object, stored, plain := src.object, src.stored, src.plain
	dec, err := codec.NewReader(plain, m.Data.Compression.Codec)
	if err != nil {
		return nil, classify(ctx, m, err)
	}
	defer dec.Close()
	raw := &digest{counter: o.Counter}
	skipRaw := o.SkipRawSHA256 && m.RDB.ChecksumVerified
	if !skipRaw {
		raw.h = sha256.New()
	}
	info, err := rdb.Copy(io.MultiWriter(destination{w}, raw), capRaw(dec, m))
	if err != nil {
		return nil, classifyStored(ctx, m, err, dec, object, stored)
	}
	// The compressed stream must end where the plaintext ends, and the
	// age stream where the object ends (age checks its last chunk's tag).
	if m.Data.Encrypted() {
		if n, err := io.Copy(io.Discard, plain); err != nil {
			return nil, classify(ctx, m, err)
		} else if n > 0 {
			return nil, fmt.Errorf("%w: backup %s: %d bytes after the end of the %s stream", ErrVerify, m.ID, n, m.Data.Compression.Codec)
		}
	}
	if n, err := io.Copy(io.Discard, object); err != nil {
		return nil, classify(ctx, m, err)
	} else if n > 0 {
		return nil, fmt.Errorf("%w: backup %s: %d bytes after the end of the %s stream", ErrVerify, m.ID, n, m.Data.Compression.Codec)
	}
	object.Wait() // read to the object's EOF: stored is complete
	rep := &Report{StoredSize: stored.n, RawSize: raw.n, RDB: info}
	return rep, check(m, rep, stored.sum(), raw.sum())
}

// FetchCompressed reads backup m from repo, decrypts it and writes the
// compressed RDB to w, for a receiver that decodes it and checks the RDB's
// size and SHA-256 against the manifest's (Install.Codec set to
// m.Data.Compression.Codec): fewer bytes to send than Fetch's. It checks
// the stored size and SHA-256 and, for an encrypted backup, age's tags.
// Bytes reach w before the checks finish; treat them as unverified until
// FetchCompressed returns nil. Errors are Fetch's.
func FetchCompressed(ctx context.Context, repo *storage.Repo, m *storage.Manifest, w io.Writer, o FetchOptions) error {
	src, err := open(ctx, repo, m, o.Identities)
	if err != nil {
		return err
	}
	defer src.close()
	object, stored := src.object, src.stored
	if _, err := io.Copy(destination{w}, src.plain); err != nil {
		var dst destError
		if errors.As(err, &dst) {
			// The receiver stopped, maybe because the stream does not
			// decode: a damaged object is said to be one, as Fetch
			// would, once the rest of it is read.
			if _, rerr := io.Copy(io.Discard, object); rerr == nil {
				object.Wait()
				if verr := checkStored(m, stored); verr != nil {
					return verr
				}
			}
		}
		return classify(ctx, m, err)
	}
	if n, err := io.Copy(io.Discard, object); err != nil {
		return classify(ctx, m, err)
	} else if n > 0 {
		return fmt.Errorf("%w: backup %s: %d bytes after the end of the age stream", ErrVerify, m.ID, n)
	}
	object.Wait()
	return checkStored(m, stored)
}

// opened is a backup's stored object being read: in a goroutine of its
// own (object), hashed as it is read (stored), and decrypted (plain, the
// object itself when it is not encrypted).
type opened struct {
	body   io.Closer
	object *pipe.Readahead
	stored *digest
	plain  io.Reader
}

// open checks that m is one object rdbak can decrypt with ids and starts
// reading it; close it when done. The goroutine has no closer: a
// blob.Reader may not be closed while it is being read; on an early return
// it finishes its read and stops.
func open(ctx context.Context, repo *storage.Repo, m *storage.Manifest, ids *crypt.Identities) (*opened, error) {
	if err := CheckSingle(m); err != nil {
		return nil, err
	}
	if err := CheckDecryptable(m, ids); err != nil {
		return nil, err
	}
	body, err := repo.OpenData(ctx, m)
	if err != nil {
		return nil, err
	}
	o := &opened{body: body, stored: &digest{h: sha256.New()}}
	o.object = pipe.New(ctx, io.TeeReader(sourceReader{body}, o.stored), nil)
	o.plain = o.object
	if m.Data.Encrypted() {
		if o.plain, err = decrypt(o.object, m, ids); err != nil {
			o.close()
			return nil, classify(ctx, m, err)
		}
	}
	return o, nil
}

// close stops reading the object.
func (o *opened) close() {
	stop(o.object)
	o.body.Close()
}

// checkStored compares the stored object's size and SHA-256 with m's.
func checkStored(m *storage.Manifest, stored *digest) error {
	var errs []error
	if stored.n != m.Data.StoredSize {
		errs = append(errs, fmt.Errorf("stored size is %d, the manifest says %d", stored.n, m.Data.StoredSize))
	}
	if sum := stored.sum(); sum != m.Data.StoredSHA256 {
		errs = append(errs, fmt.Errorf("stored SHA-256 is %s, the manifest says %s", sum, m.Data.StoredSHA256))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: backup %s: %w", ErrVerify, m.ID, errors.Join(errs...))
	}
	return nil
}

// stop ends a stage's goroutine and waits until it no longer reads.
func stop(r *pipe.Readahead) {
	_ = r.Close()
	r.Wait()
}

// ErrSet means a one-object restore (a file, one Redis's data volume) was
// asked of a cluster backup set.
var ErrSet = fmt.Errorf("%w: a cluster backup set holds one RDB per shard", ErrBadRequest)

// CheckSingle refuses a cluster backup set where one RDB is needed, and
// says what restores a set.
func CheckSingle(m *storage.Manifest) error {
	if m.IsSet() {
		return fmt.Errorf("%w: backup %s of %s is a set of %d shards; restore it by key replay with --replay-to URL (into a cluster of any shape or a standalone Redis)",
			ErrSet, m.ID, m.Target, len(m.Cluster.Shards))
	}
	return nil
}

// Verify reads every object of m (each shard of a set) as Fetch does,
// checking everything against the manifest (the RDB's SHA-256 too, whatever
// o says), and, for a set, that its shards serve every slot and add up to
// its totals. It returns the sums: sizes, and per database the keys and
// expires.
func Verify(ctx context.Context, repo *storage.Repo, m *storage.Manifest, o FetchOptions) (*Report, error) {
	o.SkipRawSHA256 = false
	sum := &Report{}
	dbs := map[int]int{}
	for i, p := range m.Parts() {
		rep, err := Fetch(ctx, repo, p, io.Discard, o)
		if err != nil {
			if m.IsSet() {
				return nil, fmt.Errorf("shard %d (%s): %w", i, p.Data.Name, err)
			}
			return nil, err
		}
		if i == 0 {
			sum.RDB = rep.RDB
			sum.RDB.DBs = nil
		}
		sum.RDB.Unparsed = cmp.Or(sum.RDB.Unparsed, rep.RDB.Unparsed)
		sum.RDB.Version = max(sum.RDB.Version, rep.RDB.Version)
		sum.StoredSize += rep.StoredSize
		sum.RawSize += rep.RawSize
		for _, db := range rep.RDB.DBs {
			j, ok := dbs[db.Index]
			if !ok {
				j = len(sum.RDB.DBs)
				dbs[db.Index] = j
				sum.RDB.DBs = append(sum.RDB.DBs, rdb.DB{Index: db.Index})
			}
			sum.RDB.DBs[j].Keys += db.Keys
			sum.RDB.DBs[j].Expires += db.Expires
		}
	}
	if m.IsSet() {
		if err := checkSet(m, sum); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// decrypt starts decrypting the object; a scheme it does not know or no
// matching identity is a verification failure of this backup.
func decrypt(r io.Reader, m *storage.Manifest, ids *crypt.Identities) (io.Reader, error) {
	if s := m.Data.Encryption.Scheme; s != crypt.SchemeAge {
		return nil, fmt.Errorf("encrypted with %q, which this rdbak does not know: upgrade rdbak", s)
	}
	pt, err := ids.Decrypt(r)
	if errors.Is(err, crypt.ErrWrongIdentity) {
		return nil, fmt.Errorf("%w; it is encrypted to %s", err, strings.Join(m.Data.Encryption.Recipients, ", "))
	}
	return pt, err
}

// CheckIdentity reads the age header of encrypted backup m and checks that
// one of ids opens it, so that a restore with a wrong identity fails before
// it changes anything. It reads the header only, not the backup; nil for an
// unencrypted backup. Errors are Fetch's.
func CheckIdentity(ctx context.Context, repo *storage.Repo, m *storage.Manifest, ids *crypt.Identities) error {
	if !m.Data.Encrypted() {
		return nil
	}
	if err := CheckDecryptable(m, ids); err != nil {
		return err
	}
	body, err := repo.OpenData(ctx, m)
	if err != nil {
		return err
	}
	defer body.Close()
	if _, err := decrypt(sourceReader{body}, m, ids); err != nil {
		return classify(ctx, m, err)
	}
	return nil
}

// FetchStored reads backup m's stored object and checks only its size and
// SHA-256 against the manifest: what can be checked of an encrypted backup
// without its identity. It neither decrypts nor parses anything, so the RDB,
// its CRC-64 and key counts are not checked.
func FetchStored(ctx context.Context, repo *storage.Repo, m *storage.Manifest, counter func(n int)) (*Report, error) {
	if m.IsSet() {
		sum := &Report{}
		for i, p := range m.Parts() {
			rep, err := FetchStored(ctx, repo, p, counter)
			if err != nil {
				return nil, fmt.Errorf("shard %d (%s): %w", i, p.Data.Name, err)
			}
			sum.StoredSize += rep.StoredSize
		}
		return sum, nil
	}
	body, err := repo.OpenData(ctx, m)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	stored := &digest{h: sha256.New(), counter: counter}
	if _, err := io.Copy(stored, sourceReader{body}); err != nil {
		return nil, classify(ctx, m, err)
	}
	if err := checkStored(m, stored); err != nil {
		return nil, err
	}
	return &Report{StoredSize: stored.n}, nil
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

// capRaw stops the decoded stream at the manifest's RDB size: more is not
// this backup, and a small crafted object can expand to terabytes, which
// a restore would write to disk before the sizes are compared. A manifest
// without a size (none is 0 bytes) leaves it uncapped.
func capRaw(r io.Reader, m *storage.Manifest) io.Reader {
	if m.Data.RawSize <= 0 {
		return r
	}
	return &rawCap{r: r, left: m.Data.RawSize, m: m}
}

type rawCap struct {
	r    io.Reader
	left int64
	m    *storage.Manifest
}

func (c *rawCap) Read(p []byte) (int, error) {
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if int64(n) > c.left {
		return int(c.left), fmt.Errorf("%w: backup %s: its %s object decodes to more than the %d bytes of RDB its manifest says",
			ErrVerify, c.m.ID, c.m.Data.Name, c.m.Data.RawSize)
	}
	c.left -= int64(n)
	return n, err
}

// classifyStored is classify for a stream that did not decode. Once the
// decoder has stopped, it reads the rest of the object: when the object's
// size or SHA-256 is not the manifest's, the bytes changed in storage, and
// that is what to say, naming the object, rather than a CRC or an offset
// that reads like a bad snapshot.
func classifyStored(ctx context.Context, m *storage.Manifest, err error, dec io.Closer, object *pipe.Readahead, stored *digest) error {
	var src sourceError
	var dst destError
	if ctx.Err() == nil && !errors.As(err, &src) && !errors.As(err, &dst) {
		_ = dec.Close()
		if _, rerr := io.Copy(io.Discard, object); rerr == nil {
			object.Wait()
			if serr := checkStored(m, stored); serr != nil {
				return fmt.Errorf("%w\nthe stored object %s/%s/%s was changed or damaged in storage (decoding it failed: %v)",
					serr, m.Target, m.ID, m.Data.Name, err)
			}
		}
	}
	return classify(ctx, m, err)
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
	if rawSum != "" && rawSum != m.Data.RawSHA256 {
		mismatch("RDB SHA-256", rawSum, m.Data.RawSHA256)
	}
	if crc := fmt.Sprintf("%016x", rep.RDB.Checksum); crc != m.RDB.CRC64 {
		mismatch("RDB CRC-64", crc, m.RDB.CRC64)
	}
	if m.RDB.ChecksumVerified && !rep.RDB.ChecksumVerified {
		mismatch("RDB CRC-64 verified", false, true)
	}
	if rep.RDB.Version != m.RDB.Version {
		mismatch("RDB version", rep.RDB.Version, m.RDB.Version)
	}
	if got, want := rep.RDB.KeysTotal(), m.Keys(); got != want {
		mismatch("key count", got, want)
	} else if got, want := perDB(counted(rep.RDB.DBs)), perDB(m.RDB.DBs); got != want {
		// describe and drills show the manifest's counts per db.
		mismatch("keys (with expiry) per db", got, want)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: backup %s: %w", ErrVerify, m.ID, errors.Join(errs...))
}

// perDB is the keys and expires of each non-empty db, as "db0=9(4)
// db3=1(0)".
func perDB(dbs []storage.DB) string {
	var out []string
	for _, d := range dbs {
		if d.Keys > 0 {
			out = append(out, fmt.Sprintf("db%d=%d(%d)", d.Index, d.Keys, d.Expires))
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// counted is the verifier's count of dbs as a manifest records it.
func counted(dbs []rdb.DB) []storage.DB {
	out := make([]storage.DB, len(dbs))
	for i, d := range dbs {
		out[i] = storage.DB{Index: d.Index, Keys: d.Keys, Expires: d.Expires}
	}
	return out
}

// digest hashes and counts what is written to it.
type digest struct {
	h       hash.Hash
	n       int64
	counter func(int)
}

func (d *digest) Write(p []byte) (int, error) {
	if d.h != nil {
		d.h.Write(p)
	}
	d.n += int64(len(p))
	if d.counter != nil {
		d.counter(len(p))
	}
	return len(p), nil
}

// sum is the hex digest, "" when d only counts.
func (d *digest) sum() string {
	if d.h == nil {
		return ""
	}
	return hex.EncodeToString(d.h.Sum(nil))
}

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
