package storage_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// putSet writes a backup set of n shards: n data objects, then the set
// manifest.
func putSet(t *testing.T, repo *storage.Repo, write func(key, data string), target string, created time.Time, n int) *storage.Manifest {
	t.Helper()
	id := storage.NewID(created)
	m := &storage.Manifest{Format: storage.ManifestFormatSet, ID: id, Target: target, Created: created, Finished: created.Add(time.Second),
		RDB: storage.RDB{DBs: []storage.DB{{Index: 0, Keys: uint64(3 * n)}}}, Cluster: &storage.Cluster{}}
	for i := range n {
		name := storage.ShardName(i, storage.DataName("zst"))
		write(target+"/"+id+"/"+name, "shard")
		m.Cluster.Shards = append(m.Cluster.Shards, storage.Shard{Keys: 3, Data: storage.Data{Name: name}, RDB: storage.RDB{Version: 10}})
	}
	if err := repo.Commit(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSetIsOneBackup: list, latest, delete and gc see a set as one backup
// in one directory.
func TestSetIsOneBackup(t *testing.T) {
	repo, write := memRepo(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	old := putID(t, repo, "orders", storage.NewID(now.Add(-time.Hour)), now.Add(-time.Hour), "rdb")
	set := putSet(t, repo, write, "orders", now, 3)

	ms, probs, err := repo.List(ctx, "orders")
	if err != nil || len(probs) != 0 || len(ms) != 2 || ms[1].ID != set.ID || !ms[1].IsSet() || ms[1].Keys() != 9 {
		t.Fatalf("List = %+v, %v, %v; want the old backup and the set", ms, probs, err)
	}
	parts := ms[1].Parts()
	if len(parts) != 3 || parts[2].Data.Name != "shard-2.dump.rdb.zst" || parts[0].ID != set.ID || parts[0].IsSet() || parts[0].Format != storage.ManifestFormat {
		t.Errorf("Parts = %+v", parts)
	}
	if got := old.Parts(); len(got) != 1 || got[0] != old {
		t.Errorf("Parts of a one-object backup = %+v, want itself", got)
	}
	sel, err := repo.Resolve(ctx, "orders", storage.Latest, storage.ResolveOptions{})
	if err != nil || sel.Manifest.ID != set.ID {
		t.Fatalf("latest = %+v, %v; want the set", sel.Manifest, err)
	}

	// A shard object missing makes the set damaged for latest.
	b := putSet(t, repo, write, "orders", now.Add(time.Minute), 2)
	if err := repo.DeleteObject(ctx, "orders", b.ID, "shard-1.dump.rdb.zst"); err != nil {
		t.Fatal(err)
	}
	var damaged *storage.DamagedError
	if _, err := repo.Resolve(ctx, "orders", storage.Latest, storage.ResolveOptions{}); !errors.As(err, &damaged) {
		t.Errorf("latest with a shard missing = %v, want DamagedError", err)
	}
	if err := repo.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}

	// Shards without a manifest are one orphan; delete removes every shard.
	write("orders/"+storage.NewID(now.Add(2*time.Minute))+"/shard-0.dump.rdb.zst", "x")
	left, err := repo.Leftovers(ctx, "", 0)
	if err != nil || len(left) != 1 || len(left[0].Keys) != 1 {
		t.Errorf("Leftovers = %+v, %v; want the one manifest-less set", left, err)
	}
	if err := repo.Delete(ctx, set); err != nil {
		t.Fatal(err)
	}
	ms, _, _ = repo.List(ctx, "orders")
	left, _ = repo.Leftovers(ctx, "", 0)
	if len(ms) != 1 || len(left) != 1 {
		t.Errorf("after deleting the set: %d backups, %d leftovers; want the old backup and the orphan", len(ms), len(left))
	}
}
