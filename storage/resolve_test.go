package storage_test

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/rdbak/rdbak/storage"
)

// putID writes a complete backup with a given id, as an older rdbak (or
// another machine's clock) may have named it, and returns its manifest.
func putID(t *testing.T, repo *storage.Repo, target, id string, created time.Time, data string) *storage.Manifest {
	t.Helper()
	ctx := t.Context()
	m := &storage.Manifest{
		Format: storage.ManifestFormat, ID: id, Target: target,
		Created: created.UTC(), Finished: created.UTC().Add(time.Second),
		Data: storage.Data{Name: storage.DataName("zst"), RawSize: int64(len(data))},
		RDB:  storage.RDB{DBs: []storage.DB{{Index: 0, Keys: 3}}},
	}
	up, err := repo.Create(ctx, target, id, m.Data.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(up, data); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := repo.Commit(ctx, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func memRepo(t *testing.T) (*storage.Repo, func(key, data string)) {
	t.Helper()
	b := memblob.OpenBucket(nil)
	repo := storage.NewRepo(b, "mem://")
	t.Cleanup(func() { _ = repo.Close() })
	write := func(key, data string) {
		t.Helper()
		if err := b.WriteAll(t.Context(), key, []byte(data), nil); err != nil {
			t.Fatal(err)
		}
	}
	return repo, write
}

func TestNewIDSortsInCreationOrder(t *testing.T) {
	now := time.Date(2026, 11, 22, 5, 30, 12, 0, time.UTC)
	var ids []string
	for i := range 50 {
		// A coarse clock: ten ids per tick of 100 µs.
		ids = append(ids, storage.NewID(now.Add(time.Duration(i/10)*100*time.Microsecond)))
	}
	if !slices.IsSorted(ids) {
		t.Fatalf("ids made in order do not sort in order: %v", ids)
	}
	if got := slices.Compact(slices.Clone(ids)); len(got) != len(ids) {
		t.Fatalf("repeated ids: %v", ids)
	}
	for _, id := range ids {
		if !storage.ValidID(id) {
			t.Fatalf("NewID made %q, which ValidID refuses", id)
		}
	}
	// An injected clock going back is honoured: the id tells the time.
	back := storage.NewID(now.Add(-24 * time.Hour))
	if got, _ := storage.IDTime(back); !got.Equal(now.Add(-24 * time.Hour)) {
		t.Fatalf("IDTime(%s) = %s, want the time given", back, got)
	}
	if got := storage.NewID(now.Add(1234567 * time.Nanosecond)); !strings.HasPrefix(got, "20261122T053012.001234Z-") && !strings.HasPrefix(got, "20261122T053012.0") {
		t.Fatalf("NewID = %s, want the microseconds in the id", got)
	}
}

func TestOldIDsStayValid(t *testing.T) {
	for _, tc := range []struct {
		id   string
		ok   bool
		want time.Time
	}{
		{"20261122T053012Z-3f9a1c", true, time.Date(2026, 11, 22, 5, 30, 12, 0, time.UTC)},
		{"20261122T053012.250000Z-3f9a1c", true, time.Date(2026, 11, 22, 5, 30, 12, 250e6, time.UTC)},
		{"20261122T053012.25Z-3f9a1c", false, time.Time{}},
		{"20261122T053012Z-3F9A1C", false, time.Time{}},
		{"latest", false, time.Time{}},
	} {
		if got := storage.ValidID(tc.id); got != tc.ok {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.ok)
		}
		if got, ok := storage.IDTime(tc.id); ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("IDTime(%q) = %s, %v; want %s, %v", tc.id, got, ok, tc.want, tc.ok)
		}
	}
	// Old and new ids of one second interleave by time, not by string.
	if c := storage.CompareID("20261122T053012Z-ffffff", "20261122T053012.500000Z-000000"); c >= 0 {
		t.Errorf("CompareID(old :12, new :12.5) = %d, want < 0", c)
	}
}

// TestLatestIsNewestByCreationTime: five backups in one second, named as
// the old ids named them (second plus random suffix, so id order is not
// creation order). latest, List, AsOf and the data follow the manifests'
// creation times.
func TestLatestIsNewestByCreationTime(t *testing.T) {
	repo, _ := memRepo(t)
	ctx := t.Context()
	sec := time.Date(2026, 11, 22, 5, 30, 12, 0, time.UTC)
	suffixes := []string{"e00000", "a00000", "f00000", "100000", "b00000"} // creation order
	var made []string
	for i, s := range suffixes {
		m := putID(t, repo, "cache", "20261122T053012Z-"+s, sec.Add(time.Duration(i)*150*time.Millisecond), "x")
		made = append(made, m.ID)
	}
	ms, _, err := repo.List(ctx, "cache")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.ID)
	}
	if !slices.Equal(got, made) {
		t.Errorf("List order = %v, want creation order %v", got, made)
	}
	if m, err := repo.Get(ctx, "cache", storage.Latest); err != nil || m.ID != made[4] {
		t.Errorf("latest = %v, %v; want %s, the last created", m, err, made[4])
	}
	sel, err := repo.AsOf(ctx, "cache", sec.Add(400*time.Millisecond), storage.ResolveOptions{})
	if err != nil || sel.Manifest.ID != made[2] {
		t.Errorf("AsOf(:12.4) = %v, %v; want %s", sel.Manifest, err, made[2])
	}
}

func TestResolvePrefix(t *testing.T) {
	repo, _ := memRepo(t)
	ctx := t.Context()
	a := putID(t, repo, "alpha", "20261122T053012.100000Z-3052de", time.Date(2026, 11, 22, 5, 30, 12, 1e8, time.UTC), "x")
	b := putID(t, repo, "alpha", "20261122T063012.100000Z-30aaaa", time.Date(2026, 11, 22, 6, 30, 12, 1e8, time.UTC), "x")
	c := putID(t, repo, "beta", "20261123T010000.000000Z-30bbbb", time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC), "x")
	for _, tc := range []struct {
		target, ref string
		want        *storage.Manifest
		err         error
		msg         string
	}{
		{"", a.ID, a, nil, ""},
		{"alpha", a.ID, a, nil, ""},
		{"", "3052de", a, nil, ""},
		{"", "3052", a, nil, ""},
		{"", "20261122T06", b, nil, ""},
		{"", "2026112", nil, storage.ErrAmbiguous, "matches 3 backups: alpha/" + a.ID + ", alpha/" + b.ID + ", beta/" + c.ID},
		{"", "30", nil, storage.ErrAmbiguous, "name the target with --target"},
		{"alpha", "30", nil, storage.ErrAmbiguous, "give more of the id"},
		{"beta", "30", c, nil, ""},
		{"beta", "3052", nil, storage.ErrNotFound, `starts with "3052"`},
		{"", "lastest", nil, storage.ErrBadRef, "see 'rdbak list'"},
		{"", "", nil, storage.ErrBadRef, "latest"},
		{"", "20261122t05", nil, storage.ErrBadRef, "latest"},
		{"", storage.Latest, nil, storage.ErrAmbiguous, "--target"},
		{"alpha", storage.Latest, b, nil, ""},
	} {
		got, err := repo.Get(ctx, tc.target, tc.ref)
		if tc.err != nil {
			if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Get(%q, %q): err = %v, want %v containing %q", tc.target, tc.ref, err, tc.err, tc.msg)
			}
			continue
		}
		if err != nil || got.ID != tc.want.ID || got.Target != tc.want.Target {
			t.Errorf("Get(%q, %q) = %v, %v; want %s/%s", tc.target, tc.ref, got, err, tc.want.Target, tc.want.ID)
		}
	}
	if ambiguous := strings.Count(func() string { _, err := repo.Get(ctx, "", "2026"); return err.Error() }(), "/"); ambiguous != 3 {
		t.Errorf("the ambiguity error lists %d matches, want 3", ambiguous)
	}
}

// TestLatestRefusesDamagedNewest: when the newest backup's manifest is
// unreadable or its data is missing, latest and AsOf fail naming it, unless
// the caller asks to skip damaged backups; then the selection says which
// were skipped.
func TestLatestRefusesDamagedNewest(t *testing.T) {
	base := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		damage func(repo *storage.Repo, write func(key, data string), m *storage.Manifest)
		key    string
	}{
		{"manifest not JSON", func(_ *storage.Repo, write func(string, string), m *storage.Manifest) {
			write("cache/"+m.ID+"/manifest.json", "{truncated")
		}, "manifest.json"},
		{"manifest of another backup", func(_ *storage.Repo, write func(string, string), m *storage.Manifest) {
			write("cache/"+m.ID+"/manifest.json", `{"format":1,"id":"20200101T000000Z-000000","target":"cache"}`)
		}, "manifest.json"},
		{"data missing", func(repo *storage.Repo, _ func(string, string), m *storage.Manifest) {
			if err := deleteData(t, repo, m); err != nil {
				t.Fatal(err)
			}
		}, "dump.rdb.zst"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, write := memRepo(t)
			ctx := t.Context()
			old := putID(t, repo, "cache", storage.NewID(base), base, "x")
			newest := putID(t, repo, "cache", storage.NewID(base.Add(time.Hour)), base.Add(time.Hour), "x")
			tc.damage(repo, write, newest)

			_, err := repo.Get(ctx, "cache", storage.Latest)
			var de *storage.DamagedError
			if !errors.Is(err, storage.ErrDamaged) || !errors.As(err, &de) {
				t.Fatalf("latest with a damaged newest backup: err = %v, want ErrDamaged", err)
			}
			if !strings.Contains(err.Error(), newest.ID) || !strings.Contains(de.Problem.Key, tc.key) {
				t.Errorf("err = %v (key %s), want it to name %s and %s", err, de.Problem.Key, newest.ID, tc.key)
			}
			if de.Fallback == nil || de.Fallback.ID != old.ID {
				t.Errorf("Fallback = %v, want %s", de.Fallback, old.ID)
			}
			if _, err := repo.AsOf(ctx, "cache", base.Add(2*time.Hour), storage.ResolveOptions{}); !errors.Is(err, storage.ErrDamaged) {
				t.Errorf("AsOf after the damaged backup: err = %v, want ErrDamaged", err)
			}
			if sel, err := repo.AsOf(ctx, "cache", base.Add(time.Minute), storage.ResolveOptions{}); err != nil || sel.Manifest.ID != old.ID {
				t.Errorf("AsOf before the damaged backup = %v, %v; want %s", sel.Manifest, err, old.ID)
			}
			if _, err := repo.Get(ctx, "cache", newest.ID); !errors.Is(err, storage.ErrDamaged) {
				t.Errorf("Get(%s) by id: err = %v, want ErrDamaged", newest.ID, err)
			}

			sel, err := repo.Resolve(ctx, "cache", storage.Latest, storage.ResolveOptions{SkipDamaged: true})
			if err != nil || sel.Manifest.ID != old.ID {
				t.Fatalf("latest skipping damaged = %v, %v; want %s", sel.Manifest, err, old.ID)
			}
			if len(sel.Skipped) != 1 || sel.Skipped[0].ID != newest.ID {
				t.Errorf("Skipped = %v, want %s", sel.Skipped, newest.ID)
			}
			if _, err := repo.Resolve(ctx, "cache", newest.ID, storage.ResolveOptions{SkipDamaged: true}); !errors.Is(err, storage.ErrDamaged) {
				t.Errorf("a backup named by id is skipped: err = %v", err)
			}
		})
	}
}

// deleteData removes m's data object and keeps its manifest: it deletes
// the backup and writes the manifest back.
func deleteData(t *testing.T, repo *storage.Repo, m *storage.Manifest) error {
	t.Helper()
	if err := repo.Delete(t.Context(), m); err != nil {
		return err
	}
	return repo.Commit(t.Context(), m)
}

func TestOpenDataMissingIsDamaged(t *testing.T) {
	repo, _ := memRepo(t)
	m := putID(t, repo, "cache", storage.NewID(time.Now()), time.Now(), "x")
	if err := deleteData(t, repo, m); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.OpenData(t.Context(), m); !errors.Is(err, storage.ErrDamaged) {
		t.Fatalf("OpenData with the data object gone: err = %v, want ErrDamaged", err)
	}
}

// TestHugeManifest: a manifest over 16 MiB (a padded AUX value, say) was
// read whole, and list held several times its size; it is damaged.
func TestHugeManifest(t *testing.T) {
	repo, write := memRepo(t)
	base := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	good := putID(t, repo, "cache", storage.NewID(base), base, "x")
	huge := putID(t, repo, "cache", storage.NewID(base.Add(time.Hour)), base.Add(time.Hour), "x")
	key := "cache/" + huge.ID + "/manifest.json"
	write(key, `{"format":1,"pad":"`+strings.Repeat("x", 17<<20)+`"}`)
	ms, problems, err := repo.List(t.Context(), "cache")
	if err != nil || len(ms) != 1 || ms[0].ID != good.ID || len(problems) != 1 || !errors.Is(problems[0].Err, storage.ErrDamaged) || !strings.Contains(problems[0].Err.Error(), "over 16 MiB") {
		t.Errorf("list: %v, problems %v, %v; want %s and the huge manifest damaged", ms, problems, err, good.ID)
	}
}
