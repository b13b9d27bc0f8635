package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// URLs
	_ "gocloud.dev/blob/memblob"  // mem:// URLs
	_ "gocloud.dev/blob/s3blob"   // s3:// URLs
	"gocloud.dev/gcerrors"
)

// ErrNotFound means the backup (or its manifest) does not exist. A data
// object without a manifest is not a backup, so it is not found either.
var ErrNotFound = errors.New("backup not found")

// ErrAmbiguous means a backup id, id prefix or "latest" matches several
// backups: the caller must give more of the id or name the target.
var ErrAmbiguous = errors.New("ambiguous backup")

// ErrDamaged means a backup exists (its manifest does) but cannot be used:
// the manifest does not decode or names another backup, or the data object
// is missing. The CLI exits 4, as for a failed verification.
var ErrDamaged = errors.New("backup damaged")

// Repo is a backup repository: a bucket, optionally under a key prefix, laid
// out as layout.go describes. It is safe for concurrent use.
type Repo struct {
	bucket  *blob.Bucket
	display string
	scrub   *scrubber   // removes the URL's secrets from driver errors
	prefix  string      // the key prefix within the bucket, for driver-level calls
	s3      *s3Location // set for s3:// repositories
	// pager, pageSize and readAll replace bucket.ListPage, listPageSize
	// and bucket.ReadAll of manifests in tests (walk.go).
	pager    pager
	pageSize int
	readAll  func(ctx context.Context, key string) ([]byte, error)
	// vanishPause, when set, replaces the pauses before listing again a
	// page that failed because a file vanished under it (walk.go).
	vanishPause time.Duration
}

// bucketSetups tune each bucket Open opens, for drivers whose defaults do
// not suit rdbak; each driver's file (driver_*.go) adds its own.
var bucketSetups []func(*blob.Bucket)

// forbidden recognises a driver's "permission denied" among the errors the
// driver reports as not found: gocloud.dev's gcsblob maps GCS's 403 to
// gcerrors.NotFound. Each driver's file (driver_*.go) adds its own.
var forbidden []func(error) bool

// notFound reports whether err says the object does not exist, and not
// that rdbak may not read or delete it: a denied read taken for a missing
// manifest hid every backup from list and status, and a denied delete
// taken for one already gone made prune report deletions it never made.
func notFound(err error) bool {
	if gcerrors.Code(err) != gcerrors.NotFound {
		return false
	}
	for _, f := range forbidden {
		if f(err) {
			return false
		}
	}
	return true
}

// exists reports whether the object at key exists: Bucket.Exists, but a
// denied read is an error, not "no".
func (r *Repo) exists(ctx context.Context, key string) (bool, error) {
	_, err := r.bucket.Attributes(ctx, key)
	if notFound(err) {
		return false, nil
	}
	return err == nil, err
}

// Options tunes Open.
type Options struct {
	// Create makes a missing file:// directory instead of failing; set it
	// for commands that write.
	Create bool
	// AllowMem accepts mem:// URLs. Their backups vanish when the process
	// exits, so only tests set it; the CLI and the config file refuse them.
	AllowMem bool
}

// Open opens the repository at rawURL, a gocloud.dev/blob URL of one of
// Schemes. For s3://, gs://, azblob:// and mem:// the URL path is a key
// prefix (s3://bucket/prod/redis?region=eu-west-1 keeps backups under
// prod/redis/); for file:// the path is the directory (file:///abs/path,
// or file://./rel/path relative to the current directory). A URL rdbak
// refuses is a *URLError (ErrBadURL). No error, and not String, shows the
// URL's credentials.
func Open(ctx context.Context, rawURL string, o Options) (*Repo, error) {
	u, err := parseURL(rawURL, o)
	if err != nil {
		return nil, err
	}
	display := redact(rawURL)
	q := u.Query()
	switch u.Scheme {
	case "file":
		if q.Get("no_tmp_dir") == "" {
			// Temporary files beside the final ones: os.TempDir is often
			// another filesystem, where the final rename would fail.
			q.Set("no_tmp_dir", "1")
		}
		if q.Get("metadata") == "" {
			// No .attrs sidecar per object: the manifest holds what matters.
			q.Set("metadata", "skip")
		}
		if q.Get("dir_file_mode") == "" {
			// The driver makes directories 0777 less the umask: under the
			// usual 022 any local user could read every backup, the whole
			// dataset. 0750, as the directory Create makes: rdbak and its
			// group (an off-site copy or a restore may run as another
			// member), nobody else, whatever the umask. The objects are
			// 0666 less the umask; these directories keep others out.
			q.Set("dir_file_mode", "0750")
		}
		if o.Create {
			dir := u.Path
			if u.Host == "." {
				dir = "." + dir
			}
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create storage directory %s: %w", dir, err)
			}
		}
	}
	var s3up S3Upload
	if u.Scheme == "s3" {
		if s3up, err = takeS3Upload(q); err != nil {
			return nil, &URLError{URL: display, Problem: err.Error(), Hint: s3UploadHint}
		}
		s3up = s3up.withDefaults()
	}
	u.RawQuery = q.Encode()
	scrub := newScrubber(display, rawURL, u.String())
	b, err := blob.OpenBucket(ctx, u.String())
	if u.Scheme == "file" && errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open storage %s: %w (no backup was ever stored there: check the path)", display, err)
	}
	if err != nil {
		return nil, scrub.err(fmt.Errorf("open storage %s: %w", display, err))
	}
	for _, setup := range bucketSetups {
		setup(b)
	}
	var client *s3.Client
	if u.Scheme == "s3" && b.As(&client) && client.Options().Region == "" && q.Get("endpoint") == "" && client.Options().BaseEndpoint == nil {
		_ = b.Close()
		return nil, &URLError{URL: display, Problem: "no AWS region: the URL has no ?region= and neither the environment nor the AWS config file sets one",
			Hint: "add ?region=, e.g. s3://bucket/prefix?region=eu-west-1, or set AWS_REGION"}
	}
	r := &Repo{bucket: b, display: display, scrub: scrub}
	if u.Scheme != "file" {
		r.prefix = q.Get("prefix")
	}
	if u.Scheme == "s3" {
		r.s3 = &s3Location{bucket: u.Host, prefix: q.Get("prefix"), upload: s3up}
		if v := q.Get("ssetype"); v != "" {
			for _, t := range s3types.ServerSideEncryptionAes256.Values() { // the driver refused any other
				if strings.EqualFold(string(t), v) {
					r.s3.sse = t
				}
			}
		}
		if v := q.Get("kmskeyid"); v != "" {
			r.s3.kmsKeyID = &v
		}
	}
	return r, nil
}

// NewRepo wraps an open bucket (tests, or callers that build their own
// driver options); url is the bucket's URL, shown redacted. The Repo takes
// ownership and closes it.
func NewRepo(b *blob.Bucket, url string) *Repo {
	display := redact(url)
	return &Repo{bucket: b, display: display, scrub: newScrubber(display, url)}
}

// String returns the storage URL without credentials.
func (r *Repo) String() string { return r.display }

// Close releases the bucket.
func (r *Repo) Close() error { return r.bucket.Close() }

// Check reports whether the storage answers, for readiness checks and early
// failure before a long snapshot.
func (r *Repo) Check(ctx context.Context) error {
	list := r.pager
	if list == nil {
		list = r.bucket.ListPage
	}
	// One key of the top level: fileblob lstats the first file it meets,
	// which a prune may be deleting (vanished).
	if _, _, err := r.listPage(ctx, list, blob.FirstPageToken, 1, &blob.ListOptions{Delimiter: "/"}); err != nil && !errors.Is(err, io.EOF) {
		return r.scrub.err(fmt.Errorf("reach storage %s: %w", r.display, err))
	}
	return nil
}

// Upload is a data object being written. Exactly one of Commit or Abort
// must be called.
type Upload struct {
	w      *io.PipeWriter // into bucket.Upload, which sends done its result
	done   chan error
	mp     *s3Multipart // instead of w, on S3
	cancel context.CancelFunc
	bucket *blob.Bucket
	key    string
	scrub  *scrubber
	ended  bool
}

// Create starts writing the data object name of backup target/id.
func (r *Repo) Create(ctx context.Context, target, id, name string) (*Upload, error) {
	ctx, cancel := context.WithCancel(ctx)
	key := dataKey(target, id, name)
	const contentType = "application/octet-stream"
	var client *s3.Client
	if r.s3 != nil && r.bucket.As(&client) {
		mp := newS3Multipart(ctx, client, r.s3, key, contentType, r.s3.upload)
		return &Upload{mp: mp, cancel: cancel, bucket: r.bucket, key: key, scrub: r.scrub}, nil
	}
	// Bucket.Upload, not a blob.Writer: gocloud.dev v0.47's azureblob
	// writer panics in Close when its upload fails after Close began, and
	// the panic hides the cause (a refused connection, a denied write).
	// Closing pr with the upload's error fails the next Write with it.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := r.bucket.Upload(ctx, key, pr, &blob.WriterOptions{ContentType: contentType})
		pr.CloseWithError(err)
		done <- err
	}()
	return &Upload{w: pw, done: done, cancel: cancel, bucket: r.bucket, key: key, scrub: r.scrub}, nil
}

// Write implements io.Writer.
func (u *Upload) Write(p []byte) (int, error) {
	if u.mp != nil {
		n, err := u.mp.Write(p)
		return n, u.scrub.err(err)
	}
	n, err := u.w.Write(p)
	return n, u.scrub.err(err)
}

// Commit finishes the upload; only then is the object visible.
func (u *Upload) Commit() error {
	u.ended = true
	defer u.cancel()
	if u.mp != nil {
		if err := u.mp.commit(); err != nil {
			return u.scrub.err(fmt.Errorf("finish upload of %s: %w", u.key, err))
		}
		return nil
	}
	_ = u.w.Close() // never fails: it tells the upload the data ended
	if err := <-u.done; err != nil {
		return u.scrub.err(fmt.Errorf("finish upload of %s: %w", u.key, err))
	}
	return nil
}

// Abort cancels the upload and removes anything it left behind. It uses
// ctx, not the upload's own (cancelled) context, for the cleanup.
func (u *Upload) Abort(ctx context.Context) error {
	if u.ended {
		return nil
	}
	u.ended = true
	u.cancel()
	if u.mp != nil {
		return u.scrub.err(u.mp.abort(ctx))
	}
	u.w.CloseWithError(context.Canceled)
	<-u.done // the cancellation; the object is not created
	if err := u.bucket.Delete(ctx, u.key); err != nil && !notFound(err) {
		return u.scrub.err(fmt.Errorf("remove partial upload %s: %w", u.key, err))
	}
	return nil
}

// Commit writes m's manifest, which makes the backup exist. Call it only
// after the data object was committed and verified.
func (r *Repo) Commit(ctx context.Context, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest of %s/%s: %w", m.Target, m.ID, err)
	}
	key := manifestKey(m.Target, m.ID)
	if err := r.bucket.WriteAll(ctx, key, append(b, '\n'), &blob.WriterOptions{ContentType: "application/json"}); err != nil {
		return r.scrub.err(fmt.Errorf("write manifest %s to %s: %w", key, r.display, err))
	}
	return nil
}

// Problem is a manifest that exists but cannot be read. Err wraps
// ErrDamaged when the manifest was read but is unusable.
type Problem struct {
	Key        string
	Target, ID string
	Err        error
}

// List returns the manifests of target (all targets when target is ""),
// oldest first by Compare (the manifests' creation times). Manifests that
// cannot be read, and those whose data object is missing, are returned as
// problems, in id order, instead of failing the whole listing.
func (r *Repo) List(ctx context.Context, target string) ([]*Manifest, []Problem, error) {
	prefix := ""
	if target != "" {
		prefix = target + "/"
	}
	var (
		out      []*Manifest
		problems []Problem
		objects  = map[string]bool{} // the other keys of backup directories
	)
	err := r.walk(ctx, &blob.ListOptions{Prefix: prefix}, func(obj *blob.ListObject) error {
		t, id, name, ok := splitBackupKey(obj.Key)
		if !ok {
			return nil
		}
		if name != ManifestName {
			objects[obj.Key] = true
			return nil
		}
		m, err := r.manifest(ctx, t, id)
		if err != nil {
			if errors.Is(err, ErrNotFound) { // deleted while listing
				return nil
			}
			if ctx.Err() != nil {
				return err
			}
			problems = append(problems, Problem{Key: obj.Key, Target: t, ID: id, Err: err})
			return nil
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	// A manifest is written after its data. One whose data object is gone
	// (a lifecycle rule, a hand, a partial copy) is no backup: counted by
	// retention as the newest, it would let prune delete the good ones.
	out = slices.DeleteFunc(out, func(m *Manifest) bool {
		for _, p := range m.Parts() {
			if key := dataKey(p.Target, p.ID, p.Data.Name); !objects[key] {
				problems = append(problems, Problem{Key: key, Target: m.Target, ID: m.ID,
					Err: r.missingData(key, m.ID)})
				return true
			}
		}
		return false
	})
	slices.SortFunc(out, Compare)
	slices.SortFunc(problems, func(a, b Problem) int {
		if c := CompareID(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Target, b.Target)
	})
	return out, problems, nil
}

func (r *Repo) manifest(ctx context.Context, target, id string) (*Manifest, error) {
	key := manifestKey(target, id)
	read := r.readAll
	if read == nil {
		read = r.readManifest
	}
	b, err := read(ctx, key)
	if notFound(err) {
		return nil, fmt.Errorf("%w: no manifest %s in %s", ErrNotFound, key, r.display)
	}
	if err != nil {
		return nil, r.scrub.err(fmt.Errorf("read manifest %s: %w", key, err))
	}
	m, err := decodeManifest(b, key)
	if err != nil {
		return nil, err
	}
	if m.ID != id || m.Target != target {
		return nil, fmt.Errorf("%w: manifest %s names backup %s/%s: it was moved or edited", ErrDamaged, key, m.Target, m.ID)
	}
	return m, nil
}

// maxManifest bounds the manifests rdbak reads: one of a cluster set of
// a thousand shards is about 2 MiB. A larger one is not rdbak's, and list
// would hold several times its size, for every backup, read whole.
const maxManifest = 16 << 20

// readManifest reads the object at key, refusing one over maxManifest.
func (r *Repo) readManifest(ctx context.Context, key string) ([]byte, error) {
	rd, err := r.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, maxManifest+1))
	if err == nil && len(b) > maxManifest {
		err = fmt.Errorf("%w: manifest %s is over %d MiB, which rdbak never writes", ErrDamaged, key, maxManifest>>20)
	}
	return b, err
}

// Targets returns the distinct targets of ms, sorted.
func Targets(ms []*Manifest) []string {
	var ts []string
	for _, m := range ms {
		ts = append(ts, m.Target)
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

func targetOrAll(target string) string {
	if target == "" {
		return "any target"
	}
	return "target " + target
}

// OpenData opens the stored data object of m. A set has one per shard:
// open those of its Parts.
func (r *Repo) OpenData(ctx context.Context, m *Manifest) (io.ReadCloser, error) {
	if m.IsSet() {
		return nil, fmt.Errorf("backup %s is a cluster backup set of %d shards, one object each: read them one by one (Manifest.Parts)", m.ID, len(m.Cluster.Shards))
	}
	key := dataKey(m.Target, m.ID, m.Data.Name)
	rd, err := r.bucket.NewReader(ctx, key, &blob.ReaderOptions{BeforeRead: quietS3Read})
	if notFound(err) {
		return nil, fmt.Errorf("%w: data object %s of backup %s is missing from %s", ErrDamaged, key, m.ID, r.display)
	}
	if err != nil {
		return nil, r.scrub.err(fmt.Errorf("open %s in %s: %w", key, r.display, err))
	}
	return rd, nil
}

// quietS3Read keeps the AWS SDK from printing "WARN Skipped validation of
// multipart checksum" on stderr, outside rdbak's log, for every object
// stored in parts: it cannot check a multipart object's checksum, and
// rdbak checks the object's SHA-256 against the manifest anyway.
func quietS3Read(as func(any) bool) error {
	var opts *[]func(*s3.Options)
	if as(&opts) {
		*opts = append(*opts, func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true })
	}
	return nil
}

// Delete removes a backup: the manifest first, so that a failure half way
// leaves garbage (collected by GC) rather than a backup without data.
func (r *Repo) Delete(ctx context.Context, m *Manifest) error {
	if err := r.bucket.Delete(ctx, manifestKey(m.Target, m.ID)); err != nil && !notFound(err) {
		return r.scrub.err(fmt.Errorf("delete manifest of %s/%s: %w", m.Target, m.ID, err))
	}
	return r.scrub.err(r.deletePrefix(ctx, backupDir(m.Target, m.ID)))
}

// DeleteObject removes one object of backup target/id (a shard of a set
// that failed); a missing object is not an error.
func (r *Repo) DeleteObject(ctx context.Context, target, id, name string) error {
	key := dataKey(target, id, name)
	if err := r.bucket.Delete(ctx, key); err != nil && !notFound(err) {
		return r.scrub.err(fmt.Errorf("delete %s: %w", key, err))
	}
	return nil
}

func (r *Repo) deletePrefix(ctx context.Context, prefix string) error {
	return r.walk(ctx, &blob.ListOptions{Prefix: prefix}, func(obj *blob.ListObject) error {
		if err := r.bucket.Delete(ctx, obj.Key); err != nil && !notFound(err) {
			return fmt.Errorf("delete %s: %w", obj.Key, err)
		}
		return nil
	})
}
