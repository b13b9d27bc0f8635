package storage

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// ManifestFormat is the version of the manifest layout this build writes
// for an unencrypted backup. Readers refuse manifests with a newer format
// rather than misread them.
const ManifestFormat = 1

// ManifestFormatEncrypted is the format of an encrypted backup's manifest:
// an rdbak from before encryption would ignore data.encryption and fail to
// decompress the object, so it must refuse the manifest and say "upgrade".
const ManifestFormatEncrypted = 2

// ManifestFormatSet is the format of a cluster backup set's manifest: an
// rdbak from before sets would find no data object at data.name and call
// the backup damaged, so it must refuse the manifest and say "upgrade".
const ManifestFormatSet = 3

// maxManifestFormat is the newest format this build reads.
const maxManifestFormat = ManifestFormatSet

// Manifest describes one complete backup. It is the last object written, so
// its presence is what makes a backup exist. It never holds a secret.
type Manifest struct {
	Format   int       `json:"format"`
	ID       string    `json:"id"`
	Target   string    `json:"target"`
	Created  time.Time `json:"created"`
	Finished time.Time `json:"finished"`

	Source Source  `json:"source"`
	Redis  Redis   `json:"redis"`
	RDB    RDB     `json:"rdb"`
	Data   Data    `json:"data"`
	Rdbak  Program `json:"rdbak"`
	// Topology is the replication set the backup was taken from, when
	// rdbak found one (a Sentinel target); nil otherwise and in manifests
	// written before it was recorded. Older readers ignore it.
	Topology *Topology `json:"topology,omitempty"`
	// Cluster is set for a backup of a Redis Cluster node: a set of one
	// RDB per shard, or (Partial) one node taken alone. nil for a
	// standalone server and in manifests written before clusters.
	Cluster *Cluster `json:"cluster,omitempty"`
}

// Topology records which node of a replication set a backup streamed from,
// and why. Addresses are as the set's Sentinels report them.
type Topology struct {
	// MasterName is the Sentinels' name for the set.
	MasterName string `json:"masterName,omitempty"`
	// Sentinels are the Sentinels that were asked; Agreed how many of
	// them named Master.
	Sentinels []string `json:"sentinels,omitempty"`
	Agreed    int      `json:"agreed,omitempty"`
	// Master is the master when the backup started; Replicas its replicas.
	Master   string   `json:"master"`
	Replicas []string `json:"replicas,omitempty"`
	// Chosen is the node the snapshot streamed from, ChosenRole master or
	// replica, Reason why it was chosen (and why others were not).
	Chosen     string `json:"chosen"`
	ChosenRole string `json:"chosenRole"`
	// ChosenPod is the pod of Chosen, namespace/name, in Kubernetes.
	ChosenPod string `json:"chosenPod,omitempty"`
	Reason    string `json:"reason"`
	// Offset is the chosen node's replication offset when it was chosen,
	// MasterOffset the master's at the same moment.
	Offset       int64 `json:"offset"`
	MasterOffset int64 `json:"masterOffset"`
	// MasterAfter is set when the Sentinels named another master once the
	// stream had ended: a failover ran during the backup. The snapshot is
	// still a consistent point of Chosen.
	MasterAfter string `json:"masterAfter,omitempty"`
}

// Cluster describes the cluster a backup was taken from.
//
// For a set (Partial false) the manifest's own data, rdb and redis blocks
// sum up the shards: data.name is empty, data's sizes and rdb's key counts
// are totals; each shard's own object and checks are in Shards. For a
// single node (Partial true) the manifest is an ordinary one-object backup
// and Shards holds that node's shard only: it is not the whole dataset.
type Cluster struct {
	Partial bool    `json:"partial"`
	Shards  []Shard `json:"shards"`
}

// Shard is one shard of a cluster backup: the slots it served, its master
// then, the node the snapshot streamed from and why, and, in a set, the
// shard's own RDB object.
type Shard struct {
	// Slots are inclusive slot ranges, [[0,5460],[5462,5462]].
	Slots      [][2]int `json:"slots"`
	Master     string   `json:"master"` // node id of the shard's master
	MasterAddr string   `json:"masterAddr"`
	Node       string   `json:"node"` // node id the snapshot streamed from
	NodeAddr   string   `json:"nodeAddr"`
	Role       string   `json:"role"` // master or replica
	Reason     string   `json:"reason,omitempty"`
	Keys       uint64   `json:"keys"`
	// Source, Redis, RDB and Data are the shard's own, as in a one-object
	// backup; empty for a single node (the manifest's own are the node's).
	Source Source `json:"source,omitzero"`
	Redis  Redis  `json:"redis,omitzero"`
	RDB    RDB    `json:"rdb,omitzero"`
	Data   Data   `json:"data,omitzero"`
}

// IsSet reports whether m is a cluster backup set: one object per shard.
func (m *Manifest) IsSet() bool { return m.Cluster != nil && !m.Cluster.Partial }

// Parts returns the one-object backups m is made of: m itself, or for a
// set one manifest per shard with the set's target, id and times and the
// shard's source, server, RDB and data object. Verify, restore and the
// data checks of latest work on parts.
func (m *Manifest) Parts() []*Manifest {
	if !m.IsSet() {
		return []*Manifest{m}
	}
	out := make([]*Manifest, len(m.Cluster.Shards))
	for i, s := range m.Cluster.Shards {
		p := *m
		p.Format = ManifestFormat
		if s.Data.Encrypted() {
			p.Format = ManifestFormatEncrypted
		}
		p.Source, p.Redis, p.RDB, p.Data, p.Cluster = s.Source, s.Redis, s.RDB, s.Data, nil
		out[i] = &p
	}
	return out
}

// Source says where the snapshot came from.
type Source struct {
	Kind   string `json:"kind"`   // "replication" or "file"
	Origin string `json:"origin"` // address or pod and path; never credentials
}

// Redis is what the server said about itself when the backup was taken.
type Redis struct {
	// Flavor is FlavorRedis or FlavorValkey; "" in manifests written
	// before it was recorded, which Flavor() reads as FlavorRedis.
	Flavor string `json:"flavor,omitempty"`
	// Version is the server's own version: INFO's valkey_version for
	// Valkey, redis_version otherwise (or the RDB's redis-ver AUX field).
	Version string `json:"version,omitempty"`
	// RedisCompat is the redis_version a Valkey server reports for
	// clients (7.2.4 on Valkey 8); empty for Redis.
	RedisCompat string `json:"redisCompat,omitempty"`
	Role        string `json:"role,omitempty"`
	ReplID      string `json:"replId,omitempty"`
	ReplOffset  int64  `json:"replOffset,omitempty"`
	// MasterLink is a replica's link to its master when backed up: "up",
	// or "down", when the data may be stale. Empty for a master.
	MasterLink string `json:"masterLink,omitempty"`
}

// Server flavors, as Redis.Flavor records them.
const (
	FlavorRedis  = "redis"
	FlavorValkey = "valkey"
)

// FlavorOf returns the flavor, reading an unrecorded one as FlavorRedis:
// rdbak recorded no flavor before it knew Valkey.
func (r Redis) FlavorOf() string {
	if r.Flavor == "" {
		return FlavorRedis
	}
	return r.Flavor
}

// String names the server as "redis 7.4.1" or "valkey 8.0.1".
func (r Redis) String() string {
	if r.Version == "" {
		return r.FlavorOf() + " (version unknown)"
	}
	return r.FlavorOf() + " " + r.Version
}

// StructureVerified is RDB.Structure when the verifier parsed every record.
// Otherwise Structure is "not-parsed: " and the reason, and the backup was
// accepted on the RDB's CRC-64 alone.
const StructureVerified = "verified"

// RDB is what the verifier learned from the snapshot while it streamed.
type RDB struct {
	// Magic is the file's magic, "REDIS" or "VALKEY"; "" in manifests
	// written before it was recorded (always REDIS then) and for a magic
	// the verifier did not know.
	Magic   string `json:"magic,omitempty"`
	Version int    `json:"version"`
	// Structure is StructureVerified or "not-parsed: <reason>"; "" in
	// manifests written before it was recorded, when every accepted
	// backup had been parsed (see StructureOf).
	Structure        string            `json:"structure,omitempty"`
	CTime            int64             `json:"ctime,omitempty"`
	Aux              map[string]string `json:"aux,omitempty"`
	DBs              []DB              `json:"dbs"`
	Modules          []string          `json:"modules,omitempty"`
	Functions        int               `json:"functions,omitempty"`
	CRC64            string            `json:"crc64"` // 16 hex digits; all zero when Redis wrote no checksum
	ChecksumVerified bool              `json:"checksumVerified"`
}

// StructureOf is Structure, reading an unrecorded one as StructureVerified.
func (r RDB) StructureOf() string {
	if r.Structure == "" {
		return StructureVerified
	}
	return r.Structure
}

// DB holds the key counts of one database in the snapshot.
type DB struct {
	Index   int    `json:"db"`
	Keys    uint64 `json:"keys"`
	Expires uint64 `json:"expires"`
}

// Data describes the stored RDB object.
type Data struct {
	Name         string      `json:"name"` // object name beside the manifest, e.g. dump.rdb.zst
	RawSize      int64       `json:"rawSize"`
	RawSHA256    string      `json:"rawSha256"`
	StoredSize   int64       `json:"storedSize"`
	StoredSHA256 string      `json:"storedSha256"`
	Compression  Compression `json:"compression"`
	// Encryption is set when the object is encrypted: StoredSize and
	// StoredSHA256 are then of the ciphertext, RawSize and RawSHA256 of
	// the RDB inside it.
	Encryption *Encryption `json:"encryption,omitempty"`
}

// Encryption records how a data object was encrypted. It holds public
// keys only: the identity that decrypts the object is never stored.
type Encryption struct {
	Scheme     string   `json:"scheme"`     // "age"
	Recipients []string `json:"recipients"` // public keys, as configured
}

// Encrypted reports whether the data object is encrypted.
func (d Data) Encrypted() bool { return d.Encryption != nil }

// Compression names the codec the data object was written with.
type Compression struct {
	Codec string `json:"codec"` // zstd, gzip or none
	Level string `json:"level,omitempty"`
}

// Program records the rdbak build that wrote the backup.
type Program struct {
	Version string `json:"version"`
}

// Keys returns the total number of keys over all databases.
func (m *Manifest) Keys() uint64 {
	var n uint64
	for _, db := range m.RDB.DBs {
		n += db.Keys
	}
	return n
}

func decodeManifest(b []byte, key string) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: decode manifest %s: %w", ErrDamaged, key, err)
	}
	if m.Format < 1 || m.Format > maxManifestFormat {
		return nil, fmt.Errorf("manifest %s has format %d; this rdbak reads formats 1..%d: upgrade rdbak", key, m.Format, maxManifestFormat)
	}
	if err := checkDataNames(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %w: the manifest was edited", ErrDamaged, key, err)
	}
	return &m, nil
}

// checkDataNames refuses a data object name that is not a plain name
// beside the manifest: dataKey joins it to the backup's directory, and
// ../../other/<id>/dump.rdb.zst would read another target's object.
func checkDataNames(m *Manifest) error {
	check := func(field, name string) error {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
			return fmt.Errorf("%s %q is not the name of an object beside the manifest", field, name)
		}
		return nil
	}
	if !m.IsSet() {
		return check("data.name", m.Data.Name)
	}
	for i, s := range m.Cluster.Shards { // a set's own data.name is empty
		if err := check(fmt.Sprintf("cluster.shards[%d].data.name", i), s.Data.Name); err != nil {
			return err
		}
	}
	return nil
}
