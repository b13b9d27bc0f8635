package drill

import (
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/storage"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func ms(t time.Time) int64 { return t.UnixMilli() }

// census builds the census of a backup with db 0: 5 strings without
// expire, 2 hashes expiring long after the drill, 1 string that expired
// before the census, 1 string expiring 10s into the drill.
func census() (*Census, *storage.Manifest) {
	c := NewCensus(t0, t0.Add(time.Hour))
	for range 5 {
		c.Add(0, "string", false, 0)
	}
	for range 2 {
		c.Add(0, "hash", true, ms(t0.Add(48*time.Hour)))
	}
	c.Add(0, "string", true, ms(t0.Add(-time.Minute)))
	c.Add(0, "string", true, ms(t0.Add(10*time.Second)))
	m := &storage.Manifest{Target: "t", ID: "x", RDB: storage.RDB{DBs: []storage.DB{{Index: 0, Keys: 9, Expires: 4}}}}
	return c, m
}

func TestGone(t *testing.T) {
	c, _ := census()
	e := c.DB(0)
	for _, tc := range []struct {
		at                time.Time
		certain, possible uint64
	}{
		{t0, 1, 1},
		{t0.Add(10 * time.Second), 1, 2},
		{t0.Add(11 * time.Second), 2, 2},
		{t0.Add(2 * time.Hour), 2, 4}, // past the window: the 48h ones may be gone too
		{t0.Add(-time.Hour), 0, 4},    // before the window: no bound
	} {
		certain, possible := c.Gone(e, tc.at)
		if certain != tc.certain || possible != tc.possible {
			t.Errorf("Gone at %s = %d, %d; want %d, %d", tc.at.Sub(t0), certain, possible, tc.certain, tc.possible)
		}
	}
}

func TestCompareData(t *testing.T) {
	for _, tc := range []struct {
		name    string
		obs     Observed
		mutate  func(m *storage.Manifest)
		failing []string // names of failing checks
		detail  string   // in the first failing check's detail
	}{
		{
			name: "all there but the key that expired before loading",
			obs: Observed{Started: t0.Add(time.Second), Ended: t0.Add(5 * time.Second), Loaded: 8, Expired: 1,
				DBs: map[int]ObservedDB{0: {Keys: 8, Expires: 3, Kinds: map[string]int64{"string": 6, "hash": 2}}}},
		},
		{
			name: "the key expiring during the drill may be gone",
			obs: Observed{Started: t0.Add(time.Second), Ended: t0.Add(20 * time.Second), Loaded: 8, Expired: 1,
				DBs: map[int]ObservedDB{0: {Keys: 7, Expires: 2, Kinds: map[string]int64{"string": 5, "hash": 2}}}},
		},
		{
			name: "a key without expire is missing",
			obs: Observed{Started: t0.Add(time.Second), Ended: t0.Add(5 * time.Second), Loaded: -1, Expired: -1,
				DBs: map[int]ObservedDB{0: {Keys: 7, Expires: 3, Kinds: map[string]int64{"string": 5, "hash": 2}}}},
			failing: []string{"db0 keys", "db0 types"},
			detail:  "expected 8",
		},
		{
			name: "a key that expired before loading is there",
			obs: Observed{Started: t0.Add(time.Second), Ended: t0.Add(5 * time.Second), Loaded: -1, Expired: -1,
				DBs: map[int]ObservedDB{0: {Keys: 9, Expires: 4}}},
			failing: []string{"db0 keys", "db0 expires"},
			detail:  "the server holds 9 keys",
		},
		{
			name: "a type changed",
			obs: Observed{Started: t0.Add(time.Second), Ended: t0.Add(5 * time.Second), Loaded: 8, Expired: 1,
				DBs: map[int]ObservedDB{0: {Keys: 8, Expires: 3, Kinds: map[string]int64{"string": 5, "hash": 2, "set": 1}}}},
			failing: []string{"db0 types"},
			detail:  "set 1, expected 0",
		},
		{
			name: "load counters do not add up",
			obs: Observed{Started: t0.Add(time.Second), Ended: t0.Add(5 * time.Second), Loaded: 7, Expired: 1,
				DBs: map[int]ObservedDB{0: {Keys: 8, Expires: 3}}},
			failing: []string{"load"},
			detail:  "7 keys and dropped 1",
		},
		{
			name: "keys in a db the backup does not have",
			obs: Observed{Started: t0.Add(time.Second), Ended: t0.Add(5 * time.Second), Loaded: -1, Expired: -1,
				DBs: map[int]ObservedDB{0: {Keys: 8, Expires: 3}, 2: {Keys: 1}}},
			failing: []string{"db2 keys"},
			detail:  "the backup 0",
		},
		{
			name: "the file does not match the manifest",
			obs:  Observed{Started: t0, Ended: t0, Loaded: -1, Expired: -1},
			mutate: func(m *storage.Manifest) {
				m.RDB.DBs[0].Keys = 10
			},
			failing: []string{"keys"},
			detail:  "the file is not the backup",
		},
		{
			name:   "structure not parsed: nothing to compare",
			obs:    Observed{Started: t0, Ended: t0, Loaded: -1, Expired: -1},
			mutate: func(m *storage.Manifest) { m.RDB.Structure = "not-parsed: RDB version 16" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, m := census()
			if tc.mutate != nil {
				tc.mutate(m)
			}
			checks := CompareData(m, c, tc.obs)
			var failing []string
			for _, ch := range checks {
				if !ch.OK {
					failing = append(failing, ch.Name)
				}
			}
			if strings.Join(failing, ",") != strings.Join(tc.failing, ",") {
				t.Fatalf("failing checks = %v, want %v; checks: %+v", failing, tc.failing, checks)
			}
			if tc.detail != "" {
				for _, ch := range checks {
					if !ch.OK {
						if !strings.Contains(ch.Detail, tc.detail) {
							t.Errorf("detail %q does not contain %q", ch.Detail, tc.detail)
						}
						break
					}
				}
			}
		})
	}
}

func TestRecordFinish(t *testing.T) {
	r := &Record{Target: "t", BackupID: "x", Started: t0, Checks: []Check{{Name: "a", OK: true}, {Name: "b", Detail: "broken"}, {Name: "c", Detail: "also"}}}
	r.Finish(t0.Add(3 * time.Second))
	if r.OK() || r.Reason != "b: broken" || r.DurationSeconds != 3 {
		t.Errorf("record = %+v, want a failure for b after 3s", r)
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "t/x: b: broken") {
		t.Errorf("Err = %v", err)
	}
	ok := &Record{Started: t0, Checks: []Check{{Name: "a", OK: true}}}
	ok.Finish(t0)
	if !ok.OK() || ok.Err() != nil {
		t.Errorf("record = %+v, want a success", ok)
	}
}
