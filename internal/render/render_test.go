package render

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// contains fails for each of want that out lacks.
func contains(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

var created = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func manifest() *storage.Manifest {
	return &storage.Manifest{ID: "20261122T030000Z-abcd", Target: "cache", Created: created, Finished: created.Add(1500 * time.Millisecond),
		Redis: storage.Redis{Version: "7.4.1", MasterLink: "down"},
		RDB:   storage.RDB{Version: 12, CRC64: "00ff", ChecksumVerified: true, DBs: []storage.DB{{Index: 0, Keys: 3, Expires: 1}}},
		Data:  storage.Data{Name: "dump.rdb.zst", RawSize: 3 << 20, StoredSize: 1024, Compression: storage.Compression{Codec: "zstd", Level: "default"}}}
}

func TestAgeAndDash(t *testing.T) {
	for d, want := range map[time.Duration]string{-time.Second: "0s", 45 * time.Second: "45s", 12 * time.Minute: "12m", 47 * time.Hour: "47h", 72 * time.Hour: "3d"} {
		if got := Age(d); got != want {
			t.Errorf("Age(%s) = %q, want %q", d, got, want)
		}
	}
	if OrDash("") != "-" || OrDash("x") != "x" {
		t.Error("OrDash")
	}
}

func TestManifests(t *testing.T) {
	var b strings.Builder
	ms := []*storage.Manifest{manifest()}
	if err := Manifests(&b, ms, false, created.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	contains(t, "list", b.String(), "TARGET", "cache", "20261122T030000Z-abcd", "2026-11-22T03:00:00.000Z", "3h", "3.0 MiB", "3")
	if strings.Contains(b.String(), "STORED") {
		t.Errorf("list without wide shows the wide columns:\n%s", b.String())
	}
	b.Reset()
	if err := Manifests(&b, ms, true, created); err != nil {
		t.Fatal(err)
	}
	contains(t, "list -o wide", b.String(), "STORED", "1.0 KiB", "zstd", "1.5s")

	b.Reset()
	if err := Manifest(&b, manifest()); err != nil {
		t.Fatal(err)
	}
	contains(t, "describe", b.String(), "ID:", "Master link:", "down when backed up", "CRC-64 00ff (verified)", "db0=3 keys (1 with expiry)", "3.0 MiB raw, 1.0 KiB stored (zstd default)")
	if strings.Contains(b.String(), "Topology:") {
		t.Errorf("describe of a standalone backup shows a topology:\n%s", b.String())
	}

	b.Reset()
	m := manifest()
	m.Topology = &storage.Topology{MasterName: "mymaster", Sentinels: []string{"s1:26379", "s2:26379", "s3:26379"}, Agreed: 3,
		Master: "10.0.0.1:6379", Replicas: []string{"10.0.0.2:6379", "10.0.0.3:6379"}, Chosen: "10.0.0.2:6379", ChosenRole: "replica",
		ChosenPod: "redis/redis-node-1", Reason: "the least behind of 2 healthy replicas", MasterAfter: "10.0.0.3:6379"}
	if err := Manifest(&b, m); err != nil {
		t.Fatal(err)
	}
	contains(t, "describe of a Sentinel set's backup", b.String(), "Topology:", "from replica 10.0.0.2:6379 (pod redis/redis-node-1) of master 10.0.0.1:6379",
		`Sentinel set "mymaster", 3 of 3 Sentinels agreed`, "2 replicas; the least behind of 2 healthy replicas", "the master became 10.0.0.3:6379")
}

func TestVerifyLines(t *testing.T) {
	m := manifest()
	rep := &restore.Report{StoredSize: 1024, RawSize: 3 << 20, RDB: rdb.Info{Version: 12}}
	var b strings.Builder
	if err := VerifyLine(&b, m, rep); err != nil {
		t.Fatal(err)
	}
	contains(t, "verify", b.String(), "OK cache/20261122T030000Z-abcd: 3.0 MiB RDB v12", "CRC-64 00ff verified")
	m.RDB.ChecksumVerified = false
	b.Reset()
	_ = VerifyLine(&b, m, rep)
	contains(t, "verify without checksum", b.String(), "absent (Redis had rdbchecksum no)")
	m.Data.Encryption = &storage.Encryption{Scheme: "age"}
	b.Reset()
	_ = StoredOKLine(&b, m, rep)
	contains(t, "verify stored", b.String(), "STORED-OK cache/", "encrypted (age), content NOT checked")
	if v := Verified(m, rep); !v.OK || v.Status != VerifyOK || !v.ContentChecked || !v.Encrypted || v.Note != "" ||
		v.StoredBytes != 1024 || v.RDBVersion != 12 || v.CRC64 != "00ff" {
		t.Errorf("Verified = %+v", v)
	}
	// Accepted on the CRC-64 alone: both say so, and the line shows no
	// key count (it covers only the records before the one that did not
	// parse).
	rep.RDB.Unparsed = "unknown type 99"
	b.Reset()
	_ = VerifyLine(&b, m, rep)
	contains(t, "verify, CRC-64 only", b.String(), "structure not parsed (unknown type 99): only the CRC-64 vouches for the RDB")
	if strings.Contains(b.String(), "keys,") {
		t.Errorf("verify, CRC-64 only, shows a key count: %s", b.String())
	}
	if v := Verified(m, rep); v.Structure != "not-parsed: unknown type 99" || !strings.Contains(v.Note, "only the CRC-64") {
		t.Errorf("Verified, CRC-64 only = %+v", v)
	}
	// STORED-OK is not ok: a script reading ok alone is not misled.
	if v := StoredOK(m, rep); v.OK || v.Status != VerifyStoredOK || v.ContentChecked || !v.Encrypted || v.StoredBytes != 1024 ||
		v.RawBytes != 0 || v.Keys != 0 || v.CRC64 != "" || !strings.Contains(v.Note, "encrypted (age)") || !strings.Contains(v.Note, "--identity-file") {
		t.Errorf("StoredOK = %+v", v)
	}
}

func TestPlan(t *testing.T) {
	p := &restore.Plan{Backup: manifest(), Pod: "prod/redis-0", Workload: "statefulset prod/redis", Redis: "7.4.1", Persist: "rdb", Strategy: "offline",
		Findings: []restore.Finding{{Check: "memory", Detail: "fits"}, {Refuse: true, Check: "replicas", Detail: "2 replicas"}}, Steps: []string{"scale to 0", "write"}}
	var b strings.Builder
	if err := Plan(&b, p); err != nil {
		t.Fatal(err)
	}
	contains(t, "plan", b.String(), "Restore plan", "backup:      cache/20261122T030000Z-abcd", "into:        prod/redis-0 (statefulset prod/redis)", "ok      memory: fits", "REFUSED replicas: 2 replicas", "1. scale to 0", "2. write")
}

func TestJobs(t *testing.T) {
	var b strings.Builder
	if err := Outcomes(&b, []app.Outcome{{Target: "a", Result: app.ResultSuccess, ID: "x", Duration: "1s"}, {Target: "b", Result: app.ResultFailure}}); err != nil {
		t.Fatal(err)
	}
	contains(t, "now --all", b.String(), "TARGET", "a ", "success", "b ", "failure", "-", "1 of 2 targets succeeded\n")
	b.Reset()
	if err := Outcomes(&b, []app.Outcome{{Target: "a", Result: app.ResultSuccess}, {Target: "b", Result: app.ResultAfterFailure, ID: "y"}}); err != nil {
		t.Fatal(err)
	}
	contains(t, "now --all, a heartbeat failed", b.String(), "after-failure", "1 of 2 targets succeeded; 1 more stored a backup, then failed (heartbeat, retention or orphans)\n")

	b.Reset()
	next := created.Add(time.Hour)
	last := created
	if err := Statuses(&b, []app.TargetStatus{{Target: "a", Backups: 2, LastSuccess: &last, LastBackupID: "x", Age: 2 * time.Hour, NextRun: &next, Schedule: "@hourly"}, {Target: "b"}}, created); err != nil {
		t.Fatal(err)
	}
	contains(t, "status", b.String(), "2026-11-22T03:00:00Z x", "2h", "(in 1h)", "@hourly", "last failure: "+app.FailuresUnknown)
	b.Reset()
	if err := Statuses(&b, []app.TargetStatus{{Target: "down", Schedule: "@hourly", Error: "open storage s3://b: boom"}}, created); err != nil {
		t.Fatal(err)
	}
	contains(t, "status, storage not read", b.String(), "down    ?        unknown: see ERROR below", "ERROR down: open storage s3://b: boom")

	b.Reset()
	Prune(&b, app.PruneResult{Target: "a", Policy: "keep last 1", Location: time.UTC,
		Backups:  []app.PruneDecision{{ID: "x", Created: created, Keep: true, Reasons: []string{"last 1"}}, {ID: "y", Created: created}},
		Problems: []string{"k: bad"}, Orphans: []app.OrphanResult{{ID: "z", Bytes: 2048, Objects: 1, LastWritten: created, Deleted: true}}})
	contains(t, "prune", b.String(), "target a: keep last 1", "keep  x  2026-11-22 03:00 UTC", "last 1", "drop  y", "left alone, damaged: k: bad", "orphan: deleted z (2.0 KiB in 1 objects, last written 2026-11-22T03:00:00Z)")

	o := &storage.Orphan{Target: "a", ID: "z", Size: 2048, Keys: []string{"k"}, Newest: created}
	r := Leftover(app.Leftover{Target: "a", Orphan: o, Collectable: created, Action: "not yet"})
	if got := r.Line(); got != "not yet a/z (2.0 KiB, 1 objects, last written 2026-11-22T03:00:00Z): collectable after 2026-11-22T03:00:00Z" {
		t.Errorf("gc line %q", got)
	}
	u := &storage.PendingUpload{Target: "a", Key: "a/z/dump", Size: 10, Parts: 2, Initiated: created}
	if got := Leftover(app.Leftover{Target: "a", Upload: u, Action: "aborted"}).Line(); got != "aborted unfinished upload a/z/dump (10 B in 2 parts, started 2026-11-22T03:00:00Z)" {
		t.Errorf("gc line %q", got)
	}
}

func TestInspection(t *testing.T) {
	in := app.Inspection{File: "dump.rdb", Valid: false, Error: "bad checksum", Summary: rdb.Summary{
		Info:    rdb.Info{Magic: "REDIS", Version: 12, DBs: []rdb.DB{{Index: 0, Keys: 2}}},
		Types:   map[string]rdb.TypeStats{"string": {Keys: 2, Bytes: 10}},
		Largest: []rdb.KeyStat{{Key: "k", DB: 0, Type: "string", Size: 6}},
	}}
	var b strings.Builder
	if err := Inspection(&b, in); err != nil {
		t.Fatal(err)
	}
	contains(t, "inspect", b.String(), "Valid:", "NO: bad checksum", "REDIS version 12", "db0=2", "TYPE", "string", "LARGEST KEYS", `"k"`)
}

func TestResult(t *testing.T) {
	v := struct {
		A int `json:"a"`
	}{1}
	var b strings.Builder
	if err := Result(&b, YAML, v); err != nil || b.String() != "a: 1\n" {
		t.Errorf("yaml: %q %v", b.String(), err)
	}
	b.Reset()
	if err := Result(&b, JSON, v); err != nil || b.String() != "{\n  \"a\": 1\n}\n" {
		t.Errorf("json: %q %v", b.String(), err)
	}
	if !Structured(JSON) || !Structured(YAML) || Structured(Wide) || Structured(Table) {
		t.Error("Structured")
	}
}

func TestLogger(t *testing.T) {
	var b strings.Builder
	log, err := Logger(&b, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	if strings.Contains(b.String(), "hidden") || !strings.Contains(b.String(), `"msg":"shown"`) {
		t.Errorf("json at warn: %s", b.String())
	}
	for _, tc := range []struct{ format, level, want string }{{"xml", "info", "--log-format"}, {"text", "loud", "--log-level"}} {
		if _, err := Logger(&b, tc.format, tc.level); !errors.As(err, new(app.UsageError)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s/%s: %v, want a usage error naming %s", tc.format, tc.level, err, tc.want)
		}
	}
}
