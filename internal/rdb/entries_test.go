package rdb

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/internal/testenv"
)

// TestEntriesMatchDump cuts every key of a real server's RDB, on every
// version, and checks that the DUMP payload built from it is byte for byte
// the server's own DUMP of the key, that the expiry is the server's, and
// that the same keys RESTOREd into an empty server give the same dataset.
func TestEntriesMatchDump(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		src := testenv.StartRedis(t, testenv.RedisOptions{Server: s})
		testenv.FillAllTypes(t, src, 1)
		testenv.FillVersionTypes(t, src)
		data, err := os.ReadFile(bgsave(t, src))
		if err != nil {
			t.Fatal(err)
		}
		dst := testenv.StartRedis(t, testenv.RedisOptions{Server: s})
		ctx := context.Background()
		clients := map[string]*redis.Client{}
		client := func(r *testenv.Redis, db int) *redis.Client {
			key := r.Addr + "/" + string(rune('0'+db))
			if c := clients[key]; c != nil {
				return c
			}
			c := redis.NewClient(&redis.Options{Addr: r.Addr, DB: db})
			t.Cleanup(func() { _ = c.Close() })
			clients[key] = c
			return c
		}
		var keys, functions int
		info, err := Entries(bytes.NewReader(data), EntryFuncs{
			Key: func(e *Entry) error {
				keys++
				sc := client(src, e.DB)
				want, err := sc.Dump(ctx, string(e.Key)).Bytes()
				if err != nil {
					t.Fatalf("DUMP %q: %v", e.Key, err)
				}
				got := DumpPayload(nil, e.Value, info0(data))
				if !bytes.Equal(got, want) {
					t.Errorf("db %d key %q (%s): payload differs from DUMP (%d vs %d bytes)", e.DB, e.Key, e.Type, len(got), len(want))
				}
				exp, err := sc.PExpireTime(ctx, string(e.Key)).Result()
				if err == nil && exp > 0 && exp.Milliseconds() != e.ExpireMs {
					t.Errorf("key %q: expiry %d, server says %d", e.Key, e.ExpireMs, exp.Milliseconds())
				}
				if e.ExpireMs == 0 && exp > 0 {
					t.Errorf("key %q: no expiry read, server has %v", e.Key, exp)
				}
				return client(dst, e.DB).RestoreReplace(ctx, string(e.Key), 0, string(DumpPayload(nil, e.Value, info0(data)))).Err()
			},
			Function: func(f Function) error {
				functions++
				return client(dst, 0).FunctionLoadReplace(ctx, f.Code).Err()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if keys != int(info.KeysTotal()) || keys < 100 {
			t.Errorf("walked %d keys, the file holds %d", keys, info.KeysTotal())
		}
		if s.HasFunctions() && functions != 1 {
			t.Errorf("walked %d function libraries, want 1", functions)
		}
		// Expiries were not replayed here (ttl 0): compare the values.
		if got, want := digestNoTTL(t, dst), digestNoTTL(t, src); got != want {
			t.Errorf("restored dataset digest %s, source %s", got, want)
		}
	})
}

// info0 is the RDB version in the file's header.
func info0(data []byte) int {
	v := 0
	for _, c := range data[5:9] {
		v = v*10 + int(c-'0')
	}
	return v
}

// digestNoTTL is DEBUG DIGEST after PERSIST on a copy: keys and values
// only. It persists the keys of r in every db.
func digestNoTTL(t *testing.T, r *testenv.Redis) string {
	t.Helper()
	ctx := context.Background()
	for _, db := range []int{0, 1, 3} {
		c := redis.NewClient(&redis.Options{Addr: r.Addr, DB: db})
		iter := c.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Persist(ctx, iter.Val())
		}
		_ = c.Close()
	}
	return r.Digest(t)
}

func TestEntriesCallbackError(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, r, 1)
	data, err := os.ReadFile(bgsave(t, r))
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop here")
	n := 0
	_, err = Entries(bytes.NewReader(data), EntryFuncs{Key: func(*Entry) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) || n != 10 {
		t.Errorf("Entries = %v after %d keys, want the callback's error after 10", err, n)
	}
	// A truncated file is an error, never accepted on its checksum.
	_, err = Entries(bytes.NewReader(data[:len(data)/2]), EntryFuncs{Key: func(*Entry) error { return nil }})
	if !errors.Is(err, ErrCorrupt) {
		t.Errorf("Entries of a truncated file = %v, want ErrCorrupt", err)
	}
}

// TestLZFClaimsTooMuch: a key name whose LZF form claims to expand to
// 2^64-1 bytes (with a good CRC-64) made the key walk allocate that much
// (a panic: makeslice). No LZF string expands more than 88 times; a larger
// claim is corrupt, for the walk and for Copy (which then goes by the CRC).
func TestLZFClaimsTooMuch(t *testing.T) {
	for _, ulen := range []int{math.MaxInt, 1 << 36, 264} {
		file := newRDB(11).set("good", "v").raw(typeString).lzf([]byte{0, 'k'}, ulen).str("v").end(true)
		if _, err := Entries(bytes.NewReader(file), EntryFuncs{Key: func(*Entry) error { return nil }}); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Entries with an LZF name claiming %d bytes = %v, want ErrCorrupt", ulen, err)
		}
		info, err := Copy(io.Discard, bytes.NewReader(file))
		if err != nil || info.Structure() == StructureVerified {
			t.Errorf("Copy with an LZF name claiming %d bytes: %v, structure %q; want accepted on the CRC-64 alone", ulen, err, info.Structure())
		}
	}
	if _, err := decodeString([]byte{0xc0 | encLZF, 2, 0x81, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 'k'}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("decodeString of an LZF string claiming 2^62 bytes: %v, want ErrCorrupt", err)
	}
}

func TestDecodeString(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{[]byte{3, 'a', 'b', 'c'}, "abc"},
		{[]byte{0x40, 2, 'h', 'i'}, "hi"},
		{[]byte{0x80, 0, 0, 0, 1, 'x'}, "x"},
		{[]byte{0xc0, 0xfe}, "-2"},
		{[]byte{0xc1, 0x39, 0x30}, "12345"},
		{[]byte{0xc2, 0x15, 0xcd, 0x5b, 0x07}, "123456789"},
	}
	for _, tt := range tests {
		got, err := decodeString(tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("decodeString(%x) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := decodeString([]byte{0xc5}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown encoding: err = %v", err)
	}
}
