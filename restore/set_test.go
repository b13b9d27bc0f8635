package restore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// TestVerifySetAddsUp verifies cluster backup sets made of one real
// stored RDB: a set whose shards serve every slot and add up to its totals
// verifies, and one whose manifest lost a shard, or holds a slot twice, is
// refused, although each shard it lists verifies on its own.
func TestVerifySetAddsUp(t *testing.T) {
	repo, one, _ := storedBackup(t)
	set := func(slots [][2]int, keys uint64, raw int64) *storage.Manifest {
		m := *one
		m.Format = storage.ManifestFormatSet
		m.Data = storage.Data{Compression: one.Data.Compression, RawSize: raw, StoredSize: one.Data.StoredSize}
		m.RDB.DBs = []storage.DB{{Index: 0, Keys: keys}}
		m.Cluster = &storage.Cluster{Shards: []storage.Shard{{Slots: slots, Keys: one.Keys(),
			Source: one.Source, Redis: one.Redis, RDB: one.RDB, Data: one.Data}}}
		return &m
	}
	keys, raw := one.Keys(), one.Data.RawSize
	for _, tc := range []struct {
		name string
		m    *storage.Manifest
		want string // in the error; "" means it verifies
	}{
		{"every slot", set([][2]int{{0, 16383}}, keys, raw), ""},
		{"a shard left out", set([][2]int{{0, 5460}}, keys, raw), "no shard holds slots 5461-16383"},
		{"a slot twice", set([][2]int{{0, 16383}, {100, 101}}, keys, raw), "several shards hold slots 100-101"},
		{"totals of a lost shard", set([][2]int{{0, 16383}}, keys+7, raw+100), "the shards hold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := restore.Verify(t.Context(), repo, tc.m, restore.FetchOptions{})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Verify = %v, want the set to verify", err)
			case tc.want == "":
			case err == nil || !errors.Is(err, restore.ErrVerify) || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Verify = %v, want an ErrVerify naming %q", err, tc.want)
			}
		})
	}
}
