package schedule

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load time zone %s: %v", name, err)
	}
	return loc
}

// series returns n backups, the first at start, every step after it. Ids
// end in the backup's index so that golden files are stable.
func series(start time.Time, step time.Duration, n int) []*storage.Manifest {
	var ms []*storage.Manifest
	for i := range n {
		ms = append(ms, backupAt(start.Add(time.Duration(i)*step), i))
	}
	return ms
}

func backupAt(t time.Time, i int) *storage.Manifest {
	t = t.UTC()
	return &storage.Manifest{Target: "cache", ID: fmt.Sprintf("%s-%06x", t.Format("20060102T150405Z"), i), Created: t}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err) // test data
	}
	return t
}

func TestPlanGolden(t *testing.T) {
	oslo := zone(t, "Europe/Oslo")
	tokyo := zone(t, "Asia/Tokyo")
	kolkata := zone(t, "Asia/Kolkata")
	// Two backups a day, 22:30 and 23:30 UTC: in Tokyo (UTC+9) they fall
	// on different calendar days, so keepDaily picks different ones.
	evenings := func() []*storage.Manifest {
		var ms []*storage.Manifest
		for d := range 5 {
			day := utc("2026-11-01T22:30:00Z").AddDate(0, 0, d)
			ms = append(ms, backupAt(day, 2*d), backupAt(day.Add(time.Hour), 2*d+1))
		}
		return ms
	}
	tests := []struct {
		name    string
		policy  Policy
		backups []*storage.Manifest
	}{
		{"keep-last", Policy{Last: 3}, series(utc("2026-11-22T00:00:00Z"), time.Hour, 8)},
		{"no-rule-keeps-all", Policy{MinKeep: 2}, series(utc("2026-11-22T00:00:00Z"), time.Hour, 4)},
		{"restic-mix-over-new-year", Policy{Daily: 7, Weekly: 4, Monthly: 3, Yearly: 2},
			series(utc("2025-11-15T03:00:00Z"), 12*time.Hour, 140)},
		{"last-and-daily", Policy{Last: 4, Daily: 3}, series(utc("2026-11-20T00:30:00Z"), 5*time.Hour, 20)},
		// Europe/Oslo leaves daylight saving time on 2026-10-25 at 03:00
		// CEST (01:00 UTC): 02:00-02:59 happens twice, as two hours.
		{"dst-fall-back-oslo-hourly", Policy{Hourly: 24, Location: oslo}, series(utc("2026-10-24T22:00:00Z"), 30*time.Minute, 12)},
		// ... and enters it on 2026-03-29 at 02:00 CET: that day has 23
		// hours, and its backups still make one daily bucket.
		{"dst-spring-forward-oslo-daily", Policy{Daily: 3, Location: oslo}, series(utc("2026-03-27T21:00:00Z"), 2*time.Hour, 36)},
		{"daily-in-utc", Policy{Daily: 3}, evenings()},
		{"daily-in-tokyo", Policy{Daily: 3, Location: tokyo}, evenings()},
		// A half-hour offset: local hours straddle UTC hours.
		{"hourly-in-kolkata", Policy{Hourly: 3, Location: kolkata}, series(utc("2026-11-22T00:00:00Z"), 20*time.Minute, 9)},
		// 2026 has an ISO week 53; 2027-01-01 belongs to it.
		{"weekly-iso-53", Policy{Weekly: 3}, series(utc("2026-12-24T12:00:00Z"), 24*time.Hour, 18)},
		{"within-36h", Policy{Within: 36 * time.Hour}, series(utc("2026-11-18T00:00:00Z"), 6*time.Hour, 12)},
		{"within-and-minkeep", Policy{Within: 24 * time.Hour, MinKeep: 5}, series(utc("2026-11-10T00:00:00Z"), 24*time.Hour, 8)},
		{"minkeep-above-count", Policy{Last: 1, MinKeep: 10}, series(utc("2026-11-10T00:00:00Z"), 24*time.Hour, 3)},
		// Two backups in the same second: the id orders them.
		{"same-second", Policy{Last: 1, Daily: 1}, []*storage.Manifest{
			backupAt(utc("2026-11-22T03:00:00Z"), 0xb), backupAt(utc("2026-11-22T03:00:00Z"), 0xa), backupAt(utc("2026-11-21T03:00:00Z"), 1),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Input order must not matter.
			in := append([]*storage.Manifest(nil), tt.backups...)
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
			got := renderPlan(tt.policy, Plan(in, tt.policy))
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run go test -update once): %v", err)
			}
			if got != string(want) {
				t.Errorf("plan differs from %s (go test ./schedule -run TestPlanGolden -update rewrites it)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func renderPlan(p Policy, ds []Decision) string {
	var b strings.Builder
	keep := 0
	for _, d := range ds {
		if d.Keep {
			keep++
		}
	}
	fmt.Fprintf(&b, "policy: %s\nbackups: %d, keep %d, drop %d\n\n", p, len(ds), keep, len(ds)-keep)
	for _, d := range ds {
		verdict := "drop"
		if d.Keep {
			verdict = "keep"
		}
		local := d.Manifest.Created.In(p.location()).Format("2006-01-02 15:04 MST")
		fmt.Fprintf(&b, "%s  %-22s  %s  %s\n", d.Manifest.ID, local, verdict, strings.Join(d.Reasons, "; "))
	}
	return b.String()
}

// TestPlanInvariants checks what must hold for any policy and any set of
// backups: one decision each, the newest kept, never fewer than MinKeep
// kept, and every decision explained.
func TestPlanInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	locs := []*time.Location{nil, zone(t, "Europe/Oslo"), zone(t, "America/Sao_Paulo"), zone(t, "Australia/Lord_Howe")}
	for i := range 2000 {
		n := r.IntN(40)
		var ms []*storage.Manifest
		at := utc("2026-01-01T00:00:00Z")
		for j := range n {
			at = at.Add(time.Duration(r.Int64N(int64(72 * time.Hour))))
			ms = append(ms, backupAt(at, j))
		}
		p := Policy{
			Last: r.IntN(4), Hourly: r.IntN(4), Daily: r.IntN(4), Weekly: r.IntN(3), Monthly: r.IntN(3), Yearly: r.IntN(2),
			Within: time.Duration(r.IntN(3)) * 24 * time.Hour, MinKeep: r.IntN(6), Location: locs[r.IntN(len(locs))],
		}
		ds := Plan(ms, p)
		if len(ds) != n {
			t.Fatalf("case %d: %d decisions for %d backups", i, len(ds), n)
		}
		kept := 0
		for k, d := range ds {
			if len(d.Reasons) == 0 {
				t.Fatalf("case %d: decision %d has no reason", i, k)
			}
			if k > 0 && d.Manifest.Created.After(ds[k-1].Manifest.Created) {
				t.Fatalf("case %d: decisions not newest first", i)
			}
			if d.Keep {
				kept++
			}
		}
		if n > 0 && !ds[0].Keep {
			t.Fatalf("case %d: policy %s drops the newest backup", i, p)
		}
		if want := min(n, p.MinKeep); kept < want {
			t.Fatalf("case %d: policy %s keeps %d of %d, fewer than minKeep", i, p, kept, n)
		}
		if p.IsZero() && kept != n {
			t.Fatalf("case %d: a policy without rules dropped backups", i)
		}
	}
}

// TestPlanSameSecond: five backups in one second, with old second-precision
// ids whose random suffixes do not sort in creation order. keepLast=1 keeps
// the one created last, the same backup "latest" names.
func TestPlanSameSecond(t *testing.T) {
	sec := utc("2026-11-22T05:30:12Z")
	var ms []*storage.Manifest
	for i, s := range []string{"e00000", "a00000", "f00000", "100000", "b00000"} {
		ms = append(ms, &storage.Manifest{Target: "cache", ID: "20261122T053012Z-" + s, Created: sec.Add(time.Duration(i) * 100 * time.Millisecond)})
	}
	ds := Plan(ms, Policy{Last: 1})
	if got := ds[0].Manifest.ID; got != ms[4].ID || !ds[0].Keep {
		t.Fatalf("newest decision = %s (keep %v), want %s kept", got, ds[0].Keep, ms[4].ID)
	}
	for _, d := range ds[1:] {
		if d.Keep {
			t.Errorf("keepLast=1 keeps %s too", d.Manifest.ID)
		}
	}
}
