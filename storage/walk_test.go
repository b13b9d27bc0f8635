package storage_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// TestListingIsPaged checks that listings hand on each page before fetching
// the next one and stay within the target they are about: the daemon's
// memory must not grow with the number of backups held in storage.
func TestListingIsPaged(t *testing.T) {
	ctx := t.Context()
	repo, write := memRepo(t)
	base := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	var newestB *storage.Manifest
	for i := range 10 {
		for _, target := range []string{"a", "b", "c"} {
			m := put(t, repo, target, base.Add(time.Duration(i)*time.Minute), "data")
			if target == "b" {
				newestB = m
			}
		}
	}
	// Two backups of b killed before their manifest: orphans.
	for i := range 2 {
		id := storage.NewID(base.Add(time.Duration(20+i) * time.Minute))
		write("b/"+id+"/dump.rdb.zst", "partial")
	}
	l := storage.CountListing(repo, 4)

	firstAt, keys := -1, 0
	err := repo.Walk(ctx, "", func(string) error {
		if keys == 0 {
			firstAt, _, _ = l.Take()
		}
		keys++
		return nil
	})
	rest, _, _ := l.Take()
	if err != nil || keys != 62 {
		t.Fatalf("Walk saw %d keys (%v), want 62", keys, err)
	}
	if firstAt != 1 || rest < 15 {
		t.Errorf("the first key came after %d pages, and %d more followed; want it after 1 page of 4 keys, with the other 15 pages after it", firstAt, rest)
	}

	m, err := repo.Latest(ctx, "b")
	pages, reads, prefixes := l.Take()
	if err != nil || m == nil || m.ID != newestB.ID {
		t.Fatalf("Latest(b) = %v, %v; want %s", m, err, newestB.ID)
	}
	if reads != 1 || pages < 2 || !slices.Equal(slices.Collect(maps.Keys(prefixes)), []string{"b/"}) {
		t.Errorf("Latest(b) read %d manifests in %d pages of prefixes %v; want 1 manifest read, pages of b/ only", reads, pages, prefixes)
	}

	orphans, err := repo.Orphans(ctx, "b", time.Now().Add(time.Hour), 0)
	pages, reads, prefixes = l.Take()
	if err != nil || len(orphans) != 2 || orphans[0].Target != "b" || len(orphans[0].Keys) != 1 {
		t.Fatalf("Orphans(b) = %+v, %v; want the 2 killed backups of b, one key each", orphans, err)
	}
	if reads != 0 || pages < 2 || !slices.Equal(slices.Collect(maps.Keys(prefixes)), []string{"b/"}) {
		t.Errorf("Orphans(b) read %d manifests in %d pages of prefixes %v; want none read, pages of b/ only", reads, pages, prefixes)
	}
	all, err := repo.Leftovers(ctx, "", 0)
	if err != nil || len(all) != 2 {
		t.Errorf("Leftovers of every target = %+v, %v; want the 2 orphans of b", all, err)
	}
	if m, err := repo.Latest(ctx, "none"); m != nil || err != nil {
		t.Errorf("Latest(none) = %v, %v; want nil, nil", m, err)
	}
}
