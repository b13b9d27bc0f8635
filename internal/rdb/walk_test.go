package rdb

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/rdbak/rdbak/internal/testenv"
)

// TestWalkReportsExpiresAndKinds checks the expire times Walk decodes from
// every expire opcode form.
func TestWalkReportsExpiresAndKinds(t *testing.T) {
	b := newRDB(9).aux("redis-ver", "5.0.0").selectDB(2).resize(3, 2)
	b.expireMs(1_700_000_000_123).set("ms", "v")
	b.expireSec(1_700_000_001).set("sec", "v")
	b.set("none", "v")
	var got []Key
	info, err := Walk(bytes.NewReader(b.end(true)), func(k Key) { got = append(got, k) })
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	want := []Key{
		{DB: 2, Kind: KindString, Expires: true, ExpireMs: 1_700_000_000_123},
		{DB: 2, Kind: KindString, Expires: true, ExpireMs: 1_700_000_001_000},
		{DB: 2, Kind: KindString},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if info.KeysTotal() != 3 {
		t.Errorf("KeysTotal = %d, want 3", info.KeysTotal())
	}
}

func TestKindOf(t *testing.T) {
	for enc, want := range map[string]string{
		"string": KindString, "list-quicklist-2": KindList, "list-ziplist": KindList, "set-intset": KindSet,
		"set-listpack": KindSet, "zset-2": KindZset, "zset-listpack": KindZset, "hash-listpack-ex": KindHash,
		"hash-metadata": KindHash, "valkey-hash-2": KindHash, "stream-listpacks-3": KindStream,
		"module-2": KindModule, "array": KindUnknown, "unknown": KindUnknown,
	} {
		if got := KindOf(enc); got != want {
			t.Errorf("KindOf(%q) = %q, want %q", enc, got, want)
		}
	}
}

// TestWalkMatchesServer checks, on every server, that Walk counts per db
// and kind what the server holds, and the expire times it reports.
func TestWalkMatchesServer(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		r := testenv.StartRedis(t, testenv.RedisOptions{Server: s})
		testenv.FillAllTypes(t, r, 1)
		testenv.FillVersionTypes(t, r)
		c := r.Client(t)
		ctx := context.Background()
		want := map[string]int{}
		wantExpire := map[string]int64{}
		for _, db := range []int{0, 1, 3} {
			if err := c.Do(ctx, "SELECT", db).Err(); err != nil {
				t.Fatal(err)
			}
			keys, err := c.Keys(ctx, "*").Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				typ := c.Type(ctx, k).Val()
				want[fmt.Sprintf("db%d %s", db, typ)]++
				if c.PTTL(ctx, k).Val() <= 0 {
					continue
				}
				wantExpire[fmt.Sprintf("db%d %s", db, k)] = -1 // PEXPIRETIME is 7.0+
				if s.AtLeast(7, 0) {
					wantExpire[fmt.Sprintf("db%d %s", db, k)] = c.PExpireTime(ctx, k).Val().Milliseconds()
				}
			}
		}
		_ = c.Close()
		path := bgsave(t, r)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got := map[string]int{}
		var expiring []int64
		if _, err := Walk(f, func(k Key) {
			got[fmt.Sprintf("db%d %s", k.DB, k.Kind)]++
			if k.Expires {
				expiring = append(expiring, k.ExpireMs)
			}
		}); err != nil {
			t.Fatalf("Walk: %v", err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("kinds per db = %v, want %v", got, want)
		}
		if len(expiring) != len(wantExpire) {
			t.Errorf("%d keys with an expire, want %d", len(expiring), len(wantExpire))
		}
		times := map[int64]bool{}
		for _, ms := range wantExpire {
			times[ms] = true
		}
		for _, ms := range expiring {
			if s.AtLeast(7, 0) && !times[ms] {
				t.Errorf("expire time %d is not one the server reports", ms)
			}
		}
	})
}
