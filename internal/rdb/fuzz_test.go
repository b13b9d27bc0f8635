package rdb

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/rdbak/rdbak/internal/testenv"
)

// FuzzCopy checks the invariants of Copy on any input: no panic, the copy
// is exactly the bytes consumed, an error is one of the sentinels, a result
// is consistent with the file, and the outcome does not depend on how the
// source splits its reads. Real RDBs seed it from testdata/fuzz/FuzzCopy
// (see -update-seeds); checksum-less seeds let mutations reach deep paths.
func FuzzCopy(f *testing.F) {
	for _, c := range handBuilt() {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src := bytes.NewReader(data)
		var out bytes.Buffer
		info, err := Copy(&out, src)
		consumed := len(data) - src.Len()
		if !bytes.Equal(out.Bytes(), data[:consumed]) {
			t.Fatalf("wrote %d bytes that are not the %d consumed", out.Len(), consumed)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
		} else {
			checkInfo(t, data, info)
		}
		rd := &chunkReader{data: data, rnd: rand.New(rand.NewPCG(uint64(len(data)), 1))}
		info2, err2 := Copy(io.Discard, rd)
		if fmt.Sprint(err) != fmt.Sprint(err2) || !reflect.DeepEqual(info, info2) {
			t.Fatalf("small reads changed the outcome:\n%v %+v\n%v %+v", err, info, err2, info2)
		}
	})
}

func checkInfo(t *testing.T, data []byte, info Info) {
	t.Helper()
	if info.Size != int64(len(data)) {
		t.Fatalf("accepted with Size %d of %d bytes", info.Size, len(data))
	}
	if info.Unparsed != "" {
		// Accepted on the CRC-64 alone: it must be there and match.
		if !info.ChecksumVerified || info.Checksum == 0 || data[len(data)-9] != opEOF ||
			CRC64(0, data[:len(data)-8]) != info.Checksum || le64(data[len(data)-8:]) != info.Checksum {
			t.Fatalf("accepted unparsed (%s) without a matching checksum", info.Unparsed)
		}
		return
	}
	switch {
	case info.Magic == MagicRedis && info.Version >= 1 && info.Version <= MaxVersion:
	case info.Magic == MagicValkey && info.Version >= MinValkeyVersion && info.Version <= MaxValkeyVersion:
	default:
		t.Fatalf("accepted %s version %d", info.Magic, info.Version)
	}
	if info.Version >= 5 {
		if stored := le64(data[len(data)-8:]); stored != info.Checksum {
			t.Fatalf("Checksum %016x, trailer %016x", info.Checksum, stored)
		}
		if info.ChecksumVerified != (info.Checksum != 0) {
			t.Fatalf("ChecksumVerified %v with checksum %016x", info.ChecksumVerified, info.Checksum)
		}
		if info.ChecksumVerified && CRC64(0, data[:len(data)-8]) != info.Checksum {
			t.Fatalf("verified a wrong checksum")
		}
	} else if info.Checksum != 0 || info.ChecksumVerified || data[len(data)-1] != opEOF {
		t.Fatalf("version %d file: checksum %016x verified %v, last byte %02x", info.Version, info.Checksum, info.ChecksumVerified, data[len(data)-1])
	}
	seen := map[int]bool{}
	for _, db := range info.DBs {
		if seen[db.Index] || db.Expires > db.Keys {
			t.Fatalf("DBs %+v: duplicate index or more expires than keys", info.DBs)
		}
		seen[db.Index] = true
	}
	mods := map[string]bool{}
	for _, m := range info.Modules {
		if mods[m] || len(m) != 9 {
			t.Fatalf("Modules %q: duplicate or not 9 characters", info.Modules)
		}
		mods[m] = true
	}
}

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the real-RDB seeds in testdata/fuzz/FuzzCopy from redis-server")

// TestUpdateSeeds regenerates the real-RDB fuzz seeds with -update-seeds.
func TestUpdateSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to regenerate testdata/fuzz/FuzzCopy/redis-*")
	}
	v := testenv.RedisServerVersion(t)
	seeds := map[string][]string{
		"small":            nil,
		"small-nochecksum": {"rdbchecksum no"},
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzCopy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, config := range seeds {
		data := smallRDB(t, config...)
		path := filepath.Join(dir, fmt.Sprintf("redis-%d.%d.%d-%s", v[0], v[1], v[2], name))
		if err := os.WriteFile(path, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
