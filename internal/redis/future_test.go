package redis

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/internal/redis/info"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// futureRDB is an RDB as a Redis newer than this build might write it: a
// version it does not know and a value type it has never seen, framed as
// every RDB is (EOF, then the CRC-64 of everything before). badCRC flips the
// checksum.
func futureRDB(magic string, badCRC bool) []byte {
	var b bytes.Buffer
	b.WriteString(magic)
	aux := func(k, v string) {
		b.WriteByte(0xFA)
		b.WriteByte(byte(len(k)))
		b.WriteString(k)
		b.WriteByte(byte(len(v)))
		b.WriteString(v)
	}
	aux("redis-ver", "8.14.0")
	aux("ctime", "1798761600")
	b.WriteString("\xFE\x00")                             // SELECTDB 0
	b.WriteString("\x00\x01k\x05value")                   // a string
	b.WriteString("\x2a\x03new" + "\x04\xde\xad\xbe\xef") // type 42, unknown layout
	b.WriteByte(0xFF)
	sum := rdb.CRC64(0, b.Bytes())
	if badCRC {
		sum ^= 1
	}
	return binary.LittleEndian.AppendUint64(b.Bytes(), sum)
}

// TestBackupFutureVersionOverReplication serves a synthetic RDB 16 from a
// fake master over the replication protocol: the backup must be committed,
// verified by its CRC-64, its rdb.structure saying "not-parsed" and why;
// restore's verification still checks the CRC and the SHA-256. A bad checksum still fails the backup and leaves nothing.
func TestBackupFutureVersionOverReplication(t *testing.T) {
	const target = "future"
	repo, err := storage.Open(t.Context(), "file://"+t.TempDir(), storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	zstd, err := codec.Settings{Codec: "zstd"}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	serve := func(payload []byte) backup.Source {
		addr := fakeMaster(t, map[string]string{"REPLCONF": "+OK"}, func(w io.Writer) {
			_, _ = fmt.Fprintf(w, "\n$%d\r\n%s", len(payload), payload)
		})
		return &PullSource{Addr: addr}
	}
	opts := backup.Options{Target: target, Compression: zstd, Version: "test", SourceKind: "replication",
		Server: infoOnly{"redis_version": "8.14.0", "role": "master"}}

	data := futureRDB("REDIS0016", false)
	res, err := backup.Run(t.Context(), serve(data), repo, opts)
	if err != nil {
		t.Fatalf("backup of an RDB 16 stream: %v", err)
	}
	m := res.Manifest
	wantStructure := "not-parsed: RDB version 16 is newer than this rdbak (REDIS 1..15 known)"
	if m.RDB.Structure != wantStructure {
		t.Errorf("rdb.structure = %q, want %q", m.RDB.Structure, wantStructure)
	}
	if !m.RDB.ChecksumVerified || m.RDB.CRC64 != fmt.Sprintf("%016x", binary.LittleEndian.Uint64(data[len(data)-8:])) {
		t.Errorf("rdb crc64 %s verified %v, want the trailer, verified", m.RDB.CRC64, m.RDB.ChecksumVerified)
	}
	if m.RDB.Magic != "REDIS" || m.RDB.Version != 16 || m.Data.RawSize != int64(len(data)) {
		t.Errorf("manifest rdb %s%d, raw size %d; want REDIS 16, %d bytes", m.RDB.Magic, m.RDB.Version, m.Data.RawSize, len(data))
	}
	if m.Redis.Version != "8.14.0" || m.Redis.Flavor != storage.FlavorRedis {
		t.Errorf("manifest redis %s, want redis 8.14.0 from INFO", m.Redis)
	}
	ms, _, err := repo.List(t.Context(), target)
	if err != nil || len(ms) != 1 || ms[0].RDB.Structure != wantStructure {
		t.Fatalf("listed %d backups (%v), want the one with structure %q", len(ms), err, wantStructure)
	}

	// Restore verification reads it back through the same checks.
	var out bytes.Buffer
	rep, err := restore.Fetch(t.Context(), repo, m, &out, restore.FetchOptions{})
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !bytes.Equal(out.Bytes(), data) || !rep.RDB.ChecksumVerified || rep.RDB.Unparsed == "" {
		t.Errorf("Fetch: %d bytes, verified %v, unparsed %q; want the stream, CRC-verified, unparsed", out.Len(), rep.RDB.ChecksumVerified, rep.RDB.Unparsed)
	}
	tampered := *m
	tampered.Data.RawSHA256 = strings.Repeat("0", 64)
	if _, err := restore.Fetch(t.Context(), repo, &tampered, io.Discard, restore.FetchOptions{}); !errors.Is(err, restore.ErrVerify) || !strings.Contains(err.Error(), "RDB SHA-256") {
		t.Errorf("Fetch with a wrong SHA-256 in the manifest: %v, want ErrVerify naming the SHA-256", err)
	}
	tampered = *m
	tampered.RDB.CRC64 = strings.Repeat("0", 16)
	if _, err := restore.Fetch(t.Context(), repo, &tampered, io.Discard, restore.FetchOptions{}); !errors.Is(err, restore.ErrVerify) || !strings.Contains(err.Error(), "CRC-64") {
		t.Errorf("Fetch with a wrong CRC-64 in the manifest: %v, want ErrVerify naming the CRC-64", err)
	}

	// The same stream with a bad checksum is garbage: no backup.
	before := len(ms)
	if _, err := backup.Run(t.Context(), serve(futureRDB("REDIS0016", true)), repo, opts); !errors.Is(err, rdb.ErrCorrupt) {
		t.Fatalf("backup with a bad CRC: %v, want ErrCorrupt", err)
	}
	if ms, _, err := repo.List(t.Context(), target); err != nil || len(ms) != before {
		t.Errorf("after a failed backup %d backups are listed (%v), want %d", len(ms), err, before)
	}

	// Valkey 9's own magic is parsed, not only checksummed.
	opts.Server = infoOnly{"redis_version": "7.2.4", "valkey_version": "9.0.0", "role": "master"}
	valkey := futureRDB("VALKEY080", false)
	valkey = bytes.Replace(valkey, []byte("\x2a\x03new\x04\xde\xad\xbe\xef"), nil, 1)
	valkey = append(valkey[:len(valkey)-8], binary.LittleEndian.AppendUint64(nil, rdb.CRC64(0, valkey[:len(valkey)-8]))...)
	res, err = backup.Run(t.Context(), serve(valkey), repo, opts)
	if err != nil {
		t.Fatalf("backup of a VALKEY080 stream: %v", err)
	}
	if got := res.Manifest.RDB; got.Structure != storage.StructureVerified || got.Magic != "VALKEY" || got.Version != 80 {
		t.Errorf("VALKEY080 manifest rdb: magic %q version %d structure %q; want VALKEY 80 verified", got.Magic, got.Version, got.Structure)
	}
	if got, want := res.Manifest.Redis, (storage.Redis{Flavor: storage.FlavorValkey, Version: "9.0.0", RedisCompat: "7.2.4", Role: "master"}); got != want {
		t.Errorf("VALKEY080 manifest redis %+v, want %+v", got, want)
	}
}

// infoOnly is a backup.Server that answers INFO from one map; a fake master
// speaks only the replication handshake.
type infoOnly map[string]string

var _ backup.Server = infoOnly(nil)

func (i infoOnly) Info(context.Context, ...string) (*info.Info, error) {
	return info.FromFields(i), nil
}
func (infoOnly) BGSave(context.Context, bool) (string, error) {
	return "", errors.New("infoOnly: no BGSAVE")
}
func (infoOnly) LastSave(context.Context) (time.Time, error) {
	return time.Time{}, errors.New("infoOnly: no LASTSAVE")
}
func (infoOnly) ConfigGet(context.Context, string) (string, error) {
	return "", errors.New("infoOnly: no CONFIG GET")
}
