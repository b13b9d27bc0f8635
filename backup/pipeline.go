package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/internal/pipe"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/storage"
)

// Options configures one backup run.
type Options struct {
	Target      string
	Compression codec.Settings // normalized
	// Encrypt, when set, encrypts the compressed stream to these
	// recipients; the manifest records their public keys.
	Encrypt    *crypt.Recipients
	Version    string // rdbak version, recorded in the manifest
	SourceKind string // "replication" or "file", recorded in the manifest
	// Server, when set, is asked for INFO server and replication so the
	// manifest records the server's version and role.
	Server   Server
	Progress *Progress // optional; updated as bytes flow
	Now      func() time.Time
	// Created, when set, is the backup's created time (and so its ID's)
	// instead of the time Run starts: an import keeps when its snapshot was
	// taken.
	Created time.Time
	// Log receives the run's steps at debug level; nil: none.
	Log *slog.Logger
	// Waiting, when set, replaces the generic reason Progress gives for
	// the wait before the first byte (e.g. with the configured delay).
	Waiting string
	// Topology, when set, is recorded in the manifest: the replication set
	// and the node the snapshot came from. The source's Stream.Accept may
	// complete it after the stream ends.
	Topology *storage.Topology
	// Part, when set, makes this run one shard of a backup set: the data
	// object goes into the set's directory under the shard's name, no
	// manifest is written (Result.Manifest describes the shard for the
	// set's manifest), and a failure removes this shard's object only.
	Part *Part
	// Cluster, when set, is recorded in the manifest: the cluster a
	// single node was taken from (Partial) and its shard.
	Cluster *storage.Cluster
}

// Part places one shard's backup in a set.
type Part struct {
	ID    string // the set's id
	Shard int    // the shard's position in the set manifest
}

// Progress is updated while a backup runs, for a progress display. Read it
// from any goroutine.
type Progress struct {
	phase    atomic.Value // string
	waiting  atomic.Value // string
	Raw      atomic.Int64 // RDB bytes read from the source
	Stored   atomic.Int64 // bytes written to storage
	Expected atomic.Int64 // RDB size if known, else -1
}

// Phase returns the current phase name.
func (p *Progress) Phase() string {
	s, _ := p.phase.Load().(string)
	return s
}

// Waiting says, in the snapshot phase, what Redis is doing before the
// first byte flows: the wait is Redis's, not a slow transfer.
func (p *Progress) Waiting() string {
	s, _ := p.waiting.Load().(string)
	return s
}

// waitReason is what Redis does before a snapshot of kind streams.
func waitReason(kind string) string {
	if kind == "replication" {
		return "replication snapshot (BGSAVE/fork, or repl-diskless-sync-delay)"
	}
	return "BGSAVE/fork"
}

// SetPhase sets the phase, for a caller that sums several backups'
// progress into one (a cluster backup set).
func (p *Progress) SetPhase(s string) { p.setPhase(s) }

func (p *Progress) setPhase(s string) {
	if p != nil {
		p.phase.Store(s)
	}
}

// Result is a committed backup and how long each phase took.
type Result struct {
	Manifest *storage.Manifest
	Snapshot time.Duration // until the source started streaming (BGSAVE or sync wait)
	Stream   time.Duration // streaming, verifying, compressing and uploading
	Commit   time.Duration // finishing the upload and writing the manifest
	// CowBytes is the copy-on-write memory the snapshot's fork cost Redis
	// (INFO persistence rdb_last_cow_size), -1 when unknown.
	CowBytes int64
	// Warnings are what the operator should know about a backup that was
	// stored nonetheless (e.g. a replica with its master link down).
	Warnings []string
}

// Run takes one backup of src into repo: it opens the snapshot stream,
// verifies the RDB while it flows, hashes and compresses it into the data
// object, and writes the manifest last. On any failure the upload is aborted
// and whatever was written is removed, so a failed backup leaves nothing
// that list, verify or restore would see.
func Run(ctx context.Context, src Source, repo *storage.Repo, o Options) (*Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := storage.ValidateTarget(o.Target); err != nil {
		return nil, err
	}
	start := o.Now()
	created := start
	if !o.Created.IsZero() {
		created = o.Created
	}
	id := storage.NewID(created)
	if o.Part != nil {
		id = o.Part.ID
	}
	res := &Result{}

	if o.Progress != nil {
		reason := o.Waiting
		if reason == "" {
			reason = waitReason(o.SourceKind)
		}
		o.Progress.waiting.Store(reason)
	}
	o.Progress.setPhase("snapshot")
	var redisInfo storage.Redis
	if o.Server != nil {
		var err error
		if redisInfo, err = describe(ctx, o.Server); err != nil {
			return nil, err
		}
	}
	stream, err := src.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open snapshot of %s: %w", o.Target, err)
	}
	defer stream.Body.Close()
	res.Snapshot = o.Now().Sub(start)
	o.Log.DebugContext(ctx, "snapshot streaming", "origin", stream.Origin, "size", stream.Size, "waited", res.Snapshot)

	streamStart := o.Now()
	up, err := repo.Create(ctx, o.Target, id, dataName(o))
	if err != nil {
		return nil, err
	}
	data, info, err := pump(ctx, stream, up, o)
	if err == nil && stream.Accept != nil {
		err = stream.Accept(info)
	}
	if err == nil {
		err = up.Commit()
	}
	if err != nil {
		cleanup := context.WithoutCancel(ctx)
		if o.Part != nil {
			return nil, errors.Join(err, up.Abort(cleanup), repo.DeleteObject(cleanup, o.Target, id, data.Name))
		}
		return nil, errors.Join(err, up.Abort(cleanup), deleteData(cleanup, repo, o.Target, id, data.Name))
	}
	res.Stream = o.Now().Sub(streamStart)
	o.Log.DebugContext(ctx, "data object committed", "backup_id", id, "object", data.Name, "stored_bytes", data.StoredSize, "seconds", res.Stream.Seconds())

	o.Progress.setPhase("commit")
	commitStart := o.Now()
	m := &storage.Manifest{
		Format:   manifestFormat(data),
		ID:       id,
		Target:   o.Target,
		Created:  created.UTC(),
		Finished: o.Now().UTC(),
		Source:   storage.Source{Kind: o.SourceKind, Origin: stream.Origin},
		Redis:    redisInfo,
		RDB:      manifestRDB(info),
		Data:     data,
		Rdbak:    storage.Program{Version: o.Version},
		Topology: o.Topology,
		Cluster:  o.Cluster,
	}
	if m.Redis.Version == "" {
		m.Redis.Version = info.RedisVersion()
		if v := info.Aux["valkey-ver"]; v != "" {
			m.Redis.Flavor, m.Redis.Version, m.Redis.RedisCompat = storage.FlavorValkey, v, info.RedisVersion()
		}
	}
	// The snapshot's own replication position is more exact than INFO's.
	if id := info.Aux["repl-id"]; id != "" {
		m.Redis.ReplID = id
		m.Redis.ReplOffset, _ = strconv.ParseInt(info.Aux["repl-offset"], 10, 64)
	}
	// A shard's backup is committed by the set's manifest, once every
	// shard is in.
	if o.Part == nil {
		if err := repo.Commit(ctx, m); err != nil {
			cleanup := context.WithoutCancel(ctx)
			return nil, errors.Join(err, repo.Delete(cleanup, m))
		}
	}
	res.Commit = o.Now().Sub(commitStart)
	o.Log.DebugContext(ctx, "manifest written", "backup_id", id, "storage", repo.String())
	res.Manifest = m
	if m.Redis.MasterLink == "down" {
		res.Warnings = append(res.Warnings, "backed up a replica whose link to its master is down: the data may be older than the master's (recorded in the manifest as redis.masterLink)")
	}
	res.CowBytes = -1
	if stream.ForkCost != nil {
		res.CowBytes = stream.ForkCost(ctx)
	}
	o.Progress.setPhase("done")
	return res, nil
}

// deleteData removes the committed data object of a backup whose manifest
// was never written (nothing, if the upload never committed).
func deleteData(ctx context.Context, repo *storage.Repo, target, id, name string) error {
	return repo.Delete(ctx, &storage.Manifest{Target: target, ID: id, Data: storage.Data{Name: name}})
}

// dataName is the data object's name: the codec's extension, then .age
// when encrypted.
func dataName(o Options) string {
	name := storage.DataName(codec.Ext(o.Compression.Codec))
	if o.Encrypt != nil {
		name = storage.EncryptedName(name)
	}
	if o.Part != nil {
		name = storage.ShardName(o.Part.Shard, name)
	}
	return name
}

// manifestFormat is the oldest format that describes data, so that only
// encrypted backups need an rdbak that knows encryption.
func manifestFormat(data storage.Data) int {
	if data.Encrypted() {
		return storage.ManifestFormatEncrypted
	}
	return storage.ManifestFormat
}

// pump streams the RDB through verifier, hashes, compressor and, if set,
// encryption into up. The stored SHA-256 and size are of what reaches up.
func pump(ctx context.Context, stream *Stream, up io.Writer, o Options) (storage.Data, rdb.Info, error) {
	data := storage.Data{
		Name:        dataName(o),
		Compression: storage.Compression{Codec: o.Compression.Codec, Level: o.Compression.Level},
	}
	if o.Progress != nil {
		o.Progress.Expected.Store(stream.Size)
		o.Progress.setPhase("stream")
	}
	stored := &meter{h: sha256.New(), progress: progressOf(o.Progress, false)}
	var sink io.Writer = io.MultiWriter(up, stored)
	enc := io.WriteCloser(nopCloser{sink})
	if o.Encrypt != nil {
		var err error
		if enc, err = o.Encrypt.Encrypt(sink); err != nil {
			return data, rdb.Info{}, err
		}
		data.Encryption = &storage.Encryption{Scheme: crypt.SchemeAge, Recipients: o.Encrypt.Keys()}
	}
	comp, err := codec.NewWriter(enc, o.Compression)
	if err != nil {
		return data, rdb.Info{}, err
	}
	raw := &meter{h: sha256.New(), progress: progressOf(o.Progress, true)}
	ra := pipe.New(ctx, stream.Body, stream.Body)
	defer ra.Close()
	info, err := rdb.Copy(io.MultiWriter(raw, comp), ra)
	if err != nil {
		_ = comp.Close()
		if ctx.Err() != nil {
			return data, info, fmt.Errorf("stream RDB from %s: %w", stream.Origin, context.Cause(ctx))
		}
		return data, info, fmt.Errorf("stream RDB from %s: %w", stream.Origin, err)
	}
	if err := comp.Close(); err != nil {
		return data, info, fmt.Errorf("finish %s compression: %w", o.Compression.Codec, err)
	}
	if err := enc.Close(); err != nil {
		return data, info, fmt.Errorf("finish age encryption: %w", err)
	}
	if stream.Size >= 0 && raw.n != stream.Size {
		return data, info, fmt.Errorf("stream RDB from %s: got %d bytes, the source announced %d", stream.Origin, raw.n, stream.Size)
	}
	data.RawSize, data.RawSHA256 = raw.n, hex.EncodeToString(raw.h.Sum(nil))
	data.StoredSize, data.StoredSHA256 = stored.n, hex.EncodeToString(stored.h.Sum(nil))
	return data, info, nil
}

func progressOf(p *Progress, raw bool) *atomic.Int64 {
	switch {
	case p == nil:
		return nil
	case raw:
		return &p.Raw
	default:
		return &p.Stored
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// meter hashes and counts the bytes written through it.
type meter struct {
	h        hash.Hash
	n        int64
	progress *atomic.Int64
}

func (m *meter) Write(p []byte) (int, error) {
	m.h.Write(p)
	m.n += int64(len(p))
	if m.progress != nil {
		m.progress.Add(int64(len(p)))
	}
	return len(p), nil
}

func manifestRDB(info rdb.Info) storage.RDB {
	r := storage.RDB{
		Magic:            info.Magic,
		Version:          info.Version,
		Structure:        info.Structure(),
		Aux:              info.Aux,
		Modules:          info.Modules,
		Functions:        info.Functions,
		CRC64:            fmt.Sprintf("%016x", info.Checksum),
		ChecksumVerified: info.ChecksumVerified,
		DBs:              []storage.DB{},
	}
	if t, ok := info.CTime(); ok {
		r.CTime = t.Unix()
	}
	for _, db := range info.DBs {
		r.DBs = append(r.DBs, storage.DB{Index: db.Index, Keys: db.Keys, Expires: db.Expires})
	}
	return r
}

// describe asks the server for its version and replication role.
func describe(ctx context.Context, srv Server) (storage.Redis, error) {
	var r storage.Redis
	in, err := srv.Info(ctx, "server", "replication")
	if err != nil {
		return r, fmt.Errorf("read INFO server and replication: %w", err)
	}
	r = Identify(in.Server)
	r.Role = in.Replication.Role
	r.ReplID = in.Replication.MasterReplID
	r.ReplOffset = in.Replication.MasterReplOffset
	if !in.Replication.IsMaster() {
		r.MasterLink = "down"
		if in.Replication.MasterLinkUp {
			r.MasterLink = "up"
		}
	}
	return r, nil
}
