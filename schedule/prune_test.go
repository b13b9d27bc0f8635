package schedule

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/rdbak/rdbak/storage"
)

func memRepo(t *testing.T) (*storage.Repo, func(key string) bool) {
	t.Helper()
	repo, _, exists := memRepoBucket(t)
	return repo, exists
}

func memRepoBucket(t *testing.T) (*storage.Repo, *blob.Bucket, func(key string) bool) {
	t.Helper()
	b := memblob.OpenBucket(nil)
	repo := storage.NewRepo(b, "mem://")
	t.Cleanup(func() { repo.Close() })
	exists := func(key string) bool {
		ok, err := b.Exists(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	return repo, b, exists
}

// put stores a complete backup of target created at at: data, then the
// manifest. Without a manifest it is what a failed backup leaves.
func put(t *testing.T, repo *storage.Repo, target string, at time.Time, manifest bool) *storage.Manifest {
	t.Helper()
	ctx := t.Context()
	m := &storage.Manifest{Format: storage.ManifestFormat, ID: storage.NewID(at), Target: target, Created: at.UTC(), Finished: at.UTC(),
		Data: storage.Data{Name: storage.DataName("zst")}}
	up, err := repo.Create(ctx, target, m.ID, m.Data.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Write([]byte("rdb bytes")); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(); err != nil {
		t.Fatal(err)
	}
	if manifest {
		if err := repo.Commit(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func ids(ms []*storage.Manifest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestPrune(t *testing.T) {
	repo, exists := memRepo(t)
	start := utc("2026-11-22T00:00:00Z")
	var all []*storage.Manifest
	for i := range 6 {
		all = append(all, put(t, repo, "cache", start.Add(time.Duration(i)*time.Hour), true))
	}
	other := put(t, repo, "other", start, true)
	p := Policy{Last: 2}

	dry, err := Prune(t.Context(), repo, "cache", p, false)
	if err != nil || len(dry.Plan) != 6 || len(dry.Deleted) != 0 {
		t.Fatalf("dry run = %+v, %v", dry, err)
	}
	if ms, _, _ := repo.List(t.Context(), "cache"); len(ms) != 6 {
		t.Fatalf("a dry run deleted backups: %d left", len(ms))
	}

	res, err := Prune(t.Context(), repo, "cache", p, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := ids(all[:4]); !slices.Equal(ids(res.Deleted), want) {
		t.Errorf("deleted %v, want the 4 oldest, oldest first: %v", ids(res.Deleted), want)
	}
	left, _, _ := repo.List(t.Context(), "cache")
	if want := ids(all[4:]); !slices.Equal(ids(left), want) {
		t.Errorf("left %v, want %v", ids(left), want)
	}
	for _, m := range res.Deleted {
		if exists("cache/"+m.ID+"/"+storage.ManifestName) || exists("cache/"+m.ID+"/"+m.Data.Name) {
			t.Errorf("%s was pruned but objects remain", m.ID)
		}
	}
	if _, err := repo.Get(t.Context(), "other", other.ID); err != nil {
		t.Errorf("pruning cache touched target other: %v", err)
	}
	// Pruning again changes nothing.
	if res, err := Prune(t.Context(), repo, "cache", p, true); err != nil || len(res.Deleted) != 0 {
		t.Errorf("second prune deleted %v, %v", ids(res.Deleted), err)
	}
}

func TestPruneZeroPolicyDeletesNothing(t *testing.T) {
	repo, _ := memRepo(t)
	for i := range 3 {
		put(t, repo, "cache", utc("2026-11-22T00:00:00Z").Add(time.Duration(i)*time.Hour), true)
	}
	res, err := Prune(t.Context(), repo, "cache", Policy{MinKeep: 1}, true)
	if ms, _, _ := repo.List(t.Context(), "cache"); err != nil || len(res.Deleted) != 0 || len(ms) != 3 {
		t.Errorf("zero policy: deleted %d, %d left, %v", len(res.Deleted), len(ms), err)
	}
}

func TestPruneCancelledStartsNoDeletion(t *testing.T) {
	repo, _ := memRepo(t)
	for i := range 3 {
		put(t, repo, "cache", utc("2026-11-22T00:00:00Z").Add(time.Duration(i)*time.Hour), true)
	}
	store := &cancelOnList{Repo: repo}
	ctx, cancel := context.WithCancel(t.Context())
	store.cancel = cancel
	res, err := Prune(ctx, store, "cache", Policy{Last: 1}, true)
	if !errors.Is(err, context.Canceled) || len(res.Deleted) != 0 {
		t.Errorf("Prune after cancel = deleted %v, %v; want nothing deleted and context.Canceled", ids(res.Deleted), err)
	}
	if ms, _, _ := repo.List(t.Context(), "cache"); len(ms) != 3 {
		t.Errorf("%d backups left, want 3", len(ms))
	}
}

// cancelOnList cancels the context once the listing is done, as a SIGTERM
// arriving while a prune plans.
type cancelOnList struct {
	*storage.Repo
	cancel context.CancelFunc
}

func (c *cancelOnList) List(ctx context.Context, target string) ([]*storage.Manifest, []storage.Problem, error) {
	ms, p, err := c.Repo.List(ctx, target)
	c.cancel()
	return ms, p, err
}

// TestFailedBackupsNeverCount: a failed backup leaves data without a
// manifest. It is not a backup to the policy, so keepLast 2 keeps two
// real backups however many failed runs came after them, and the failed
// run's data is collected as an orphan once older than the grace period.
func TestFailedBackupsNeverCount(t *testing.T) {
	repo, exists := memRepo(t)
	start := utc("2026-11-22T00:00:00Z")
	good := []*storage.Manifest{put(t, repo, "cache", start, true), put(t, repo, "cache", start.Add(time.Hour), true), put(t, repo, "cache", start.Add(2*time.Hour), true)}
	failed := []*storage.Manifest{put(t, repo, "cache", start.Add(3*time.Hour), false), put(t, repo, "cache", start.Add(4*time.Hour), false)}
	put(t, repo, "other", start.Add(5*time.Hour), false)

	res, err := Prune(t.Context(), repo, "cache", Policy{Last: 2}, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := ids(good[:1]); !slices.Equal(ids(res.Deleted), want) {
		t.Errorf("deleted %v, want only the oldest good backup %v", ids(res.Deleted), want)
	}
	left, _, _ := repo.List(t.Context(), "cache")
	if want := ids(good[1:]); !slices.Equal(ids(left), want) {
		t.Errorf("left %v, want the two newest good backups %v", ids(left), want)
	}

	// Written just now: younger than the grace period, so left alone (it
	// could be a backup still uploading).
	if o, err := CollectOrphans(t.Context(), repo, "cache", time.Now(), time.Hour, true); err != nil || len(o) != 0 {
		t.Fatalf("young orphans collected: %v, %v", o, err)
	}
	later := time.Now().Add(2 * time.Hour)
	o, err := CollectOrphans(t.Context(), repo, "cache", later, time.Hour, false)
	if err != nil || len(o) != 2 || !exists("cache/"+failed[0].ID+"/"+failed[0].Data.Name) {
		t.Fatalf("dry run found %v, %v; want 2 orphans, none deleted", o, err)
	}
	o, err = CollectOrphans(t.Context(), repo, "cache", later, time.Hour, true)
	if err != nil || len(o) != 2 {
		t.Fatalf("collected %v, %v; want the 2 failed runs of cache", o, err)
	}
	for _, m := range failed {
		if exists("cache/" + m.ID + "/" + m.Data.Name) {
			t.Errorf("orphan %s not deleted", m.ID)
		}
	}
	if o, _ := repo.Orphans(t.Context(), "", later, time.Hour); len(o) != 1 || o[0].Target != "other" {
		t.Errorf("orphans left = %v, want other's only", o)
	}
}

// TestPruneLeavesUnreadableManifests: a manifest rdbak cannot read (damaged,
// or from a newer rdbak) is reported, never counted and never deleted.
func TestPruneLeavesUnreadableManifests(t *testing.T) {
	repo, b, exists := memRepoBucket(t)
	start := utc("2026-11-22T00:00:00Z")
	for i := range 3 {
		put(t, repo, "cache", start.Add(time.Duration(i)*time.Hour), true)
	}
	bad := put(t, repo, "cache", start.Add(-time.Hour), false)
	key := "cache/" + bad.ID + "/" + storage.ManifestName
	if err := b.WriteAll(t.Context(), key, []byte(`{"format": 99}`), nil); err != nil {
		t.Fatal(err)
	}
	res, err := Prune(t.Context(), repo, "cache", Policy{Last: 1}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || res.Problems[0].Key != key || len(res.Plan) != 3 || len(res.Deleted) != 2 {
		t.Errorf("problems %v, plan of %d, deleted %d; want the unreadable manifest reported and out of the plan", res.Problems, len(res.Plan), len(res.Deleted))
	}
	if !exists(key) {
		t.Error("the unreadable manifest was deleted")
	}
}

// TestPruneLeavesBackupsWithoutData: a manifest whose data object is gone
// (a lifecycle rule, a hand) is not a backup. Counted as the newest, it
// let keepLast 1 delete the one good backup; now it is reported and left
// alone, and the good backup is kept.
func TestPruneLeavesBackupsWithoutData(t *testing.T) {
	repo, b, exists := memRepoBucket(t)
	start := utc("2026-11-22T00:00:00Z")
	good := put(t, repo, "cache", start, true)
	gone := put(t, repo, "cache", start.Add(time.Hour), true)
	data := "cache/" + gone.ID + "/" + gone.Data.Name
	if err := b.Delete(t.Context(), data); err != nil {
		t.Fatal(err)
	}
	res, err := Prune(t.Context(), repo, "cache", Policy{Last: 1}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || res.Problems[0].Key != data || len(res.Deleted) != 0 ||
		len(res.Plan) != 1 || res.Plan[0].Manifest.ID != good.ID || !res.Plan[0].Keep {
		t.Errorf("problems %v, plan %v, deleted %v; want the backup without data reported and %s kept", res.Problems, res.Plan, ids(res.Deleted), good.ID)
	}
	if !exists("cache/"+good.ID+"/"+good.Data.Name) || !exists("cache/"+gone.ID+"/"+storage.ManifestName) {
		t.Error("prune deleted the good backup or the damaged one's manifest")
	}
}
