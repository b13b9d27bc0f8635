package storage

import (
	"encoding/json"
	"fmt"
	"time"
)

// ManifestFormat is the version of the manifest layout this build writes.
// Readers refuse manifests with a newer format rather than misread them.
const ManifestFormat = 1

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
}

// Source says where the snapshot came from.
type Source struct {
	Kind   string `json:"kind"`   // "replication" or "file"
	Origin string `json:"origin"` // address or pod and path; never credentials
}

// Redis is what the server said about itself when the backup was taken.
type Redis struct {
	Version    string `json:"version,omitempty"`
	Role       string `json:"role,omitempty"`
	ReplID     string `json:"replId,omitempty"`
	ReplOffset int64  `json:"replOffset,omitempty"`
	// MasterLink is a replica's link to its master when backed up: "up",
	// or "down", when the data may be stale. Empty for a master.
	MasterLink string `json:"masterLink,omitempty"`
}

// RDB is what the verifier learned from the snapshot while it streamed.
type RDB struct {
	Version          int               `json:"version"`
	CTime            int64             `json:"ctime,omitempty"`
	Aux              map[string]string `json:"aux,omitempty"`
	DBs              []DB              `json:"dbs"`
	Modules          []string          `json:"modules,omitempty"`
	Functions        int               `json:"functions,omitempty"`
	CRC64            string            `json:"crc64"` // 16 hex digits; all zero when Redis wrote no checksum
	ChecksumVerified bool              `json:"checksumVerified"`
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
}

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
	if m.Format < 1 || m.Format > ManifestFormat {
		return nil, fmt.Errorf("manifest %s has format %d; this rdbak reads formats 1..%d: upgrade rdbak", key, m.Format, ManifestFormat)
	}
	return &m, nil
}
