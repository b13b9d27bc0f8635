package restore

import (
	"strings"
	"testing"
)

func TestInSync(t *testing.T) {
	keys := map[int]int64{0: 10, 3: 2}
	master := SetMember{Addr: "m", Master: true, ReplID: "new", Digest: "d1", Keys: keys}
	ok := SetMember{Addr: "r1", LinkUp: true, ReplID: "new", Digest: "d1", Keys: keys}
	with := func(f func(*SetMember)) SetMember { r := ok; f(&r); return r }
	tests := []struct {
		name     string
		master   SetMember
		replicas []SetMember
		waiting  string // "" when in sync
	}{
		{"in sync", master, []SetMember{ok, with(func(r *SetMember) { r.Addr = "r2" })}, ""},
		{"no replicas", master, nil, ""},
		{"master unreachable", SetMember{Addr: "m", Err: "connection refused"}, []SetMember{ok}, "master m: connection refused"},
		{"master demoted", SetMember{Addr: "m"}, []SetMember{ok}, "master m: reports role replica"},
		{"replica unreachable", master, []SetMember{with(func(r *SetMember) { r.Err = "i/o timeout" })}, "replica r1: i/o timeout"},
		{"replica promoted", master, []SetMember{with(func(r *SetMember) { r.Master = true })}, "reports role master"},
		{"link down", master, []SetMember{with(func(r *SetMember) { r.LinkUp = false })}, "master link down"},
		{"syncing", master, []SetMember{with(func(r *SetMember) { r.Syncing = true })}, "full sync in progress"},
		{"old history", master, []SetMember{with(func(r *SetMember) { r.ReplID = "old" })}, "not yet on the restored master's replication history new"},
		{"digest differs", master, []SetMember{with(func(r *SetMember) { r.Digest = "d0" })}, "DEBUG DIGEST d0 differs"},
		{"no digest, same keys", SetMember{Addr: "m", Master: true, ReplID: "new", Keys: keys}, []SetMember{with(func(r *SetMember) { r.Digest = "" })}, ""},
		{"no digest, keys differ", SetMember{Addr: "m", Master: true, ReplID: "new", Keys: keys},
			[]SetMember{with(func(r *SetMember) { r.Digest = ""; r.Keys = map[int]int64{0: 10} })}, "key counts db0=10 differ from the master's db0=10,db3=2"},
		{"one digest missing, keys compared", master, []SetMember{with(func(r *SetMember) { r.Digest = ""; r.Keys = nil })}, "key counts (empty) differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, waiting := InSync(tt.master, tt.replicas)
			if tt.waiting == "" {
				if !done || len(waiting) != 0 {
					t.Fatalf("InSync = %v, %q; want in sync", done, waiting)
				}
				return
			}
			if done || !strings.Contains(strings.Join(waiting, "\n"), tt.waiting) {
				t.Fatalf("InSync = %v, %q; want waiting for %q", done, waiting, tt.waiting)
			}
		})
	}
}

func TestReplicatedSteps(t *testing.T) {
	set := SetPlan{MasterName: "mymaster", Master: "m:6379", Sentinels: []string{"s0:26379", "s1:26379"},
		Replicas: []Frozen{{"r1:6379", "100"}, {"r2:6379", "0"}}}
	steps := ReplicatedSteps(set, append([]string{VerifyStep("id1")}, Steps(InPlace, "id1", Workload{Kind: "StatefulSet", Namespace: "ns", Name: "redis", Replicas: 3}, Layout{Dir: "/data", DBFilename: "dump.rdb"}, "a")...))
	text := strings.Join(steps, "\n")
	order := []string{
		"download and verify backup id1",
		"agree that m:6379 is the master of mymaster",
		"replica-priority 0 on every replica (now r1:6379=100, r2:6379=0)",
		"on the master m:6379: through exec into the Redis container",
		"on the master m:6379: make Redis exit without saving",
		"still name m:6379 as master",
		"fully resynced from the restored master",
		"put back each replica's replica-priority (r1:6379=100, r2:6379=0)",
		"on failure or Ctrl-C",
	}
	at := 0
	for _, want := range order {
		i := strings.Index(text[at:], want)
		if i < 0 {
			t.Fatalf("steps lack %q after position %d:\n%s", want, at, text)
		}
		at += i
	}
}

func TestReplicationSteps(t *testing.T) {
	set := ReplicationPlan{Master: "ns/redis-master-0", Replicas: []string{"ns/redis-replicas-0", "ns/redis-replicas-1"}}
	steps := ReplicationSteps(set, Steps(Offline, "id1", Workload{Kind: "StatefulSet", Namespace: "ns", Name: "redis-master", Replicas: 1}, Layout{Dir: "/data", DBFilename: "dump.rdb"}, "a"))
	text := strings.Join(steps, "\n")
	order := []string{
		"every replica (ns/redis-replicas-0, ns/redis-replicas-1) replicates from the master ns/redis-master-0",
		"on the master ns/redis-master-0: run a staging pod",
		"download backup id1 (checking its stored size and SHA-256)",
		"Redis keeps serving the old data",
		"on the master ns/redis-master-0: turn off Redis's save points",
		"scale statefulset ns/redis-master from 1 to 0",
		"on the master ns/redis-master-0: scale statefulset ns/redis-master back to 1, delete the staging pod",
		"serve their old data, read-only, until the master runs on the restored data",
		"fully resynced from the restored master",
		"keeps its old data; after it, the master's previous data is kept as .pre-restore",
	}
	at := 0
	for _, want := range order {
		i := strings.Index(text[at:], want)
		if i < 0 {
			t.Fatalf("steps lack %q after position %d:\n%s", want, at, text)
		}
		at += i
	}
	if strings.Contains(text, "Sentinel") && !strings.Contains(text, "no Sentinel watches") {
		t.Errorf("steps of a set without Sentinel talk of Sentinel:\n%s", text)
	}
}
