package restore

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// SetMember is one data node of a replication set, as a restore into the
// set sees it while it waits for the replicas to resync.
type SetMember struct {
	Addr string
	// Err says why the node could not be asked ("" when it answered).
	Err     string
	Master  bool   // role:master
	LinkUp  bool   // a replica's master_link_status:up
	Syncing bool   // master_sync_in_progress:1
	ReplID  string // master_replid: the replication history it follows
	// Digest is DEBUG DIGEST, "" when DEBUG is not allowed (Redis 7's
	// enable-debug-command no); the key counts are compared then.
	Digest string
	Keys   map[int]int64
}

// InSync reports whether every replica holds the restored master's data:
// each answers as a replica with its link up, no sync running, on the
// master's replication history (so it has synced from the restored
// master, not kept its old data), and with the master's digest, or its key
// counts when a digest is missing. waiting lists what is not there yet,
// one entry per node.
func InSync(master SetMember, replicas []SetMember) (bool, []string) {
	var waiting []string
	switch {
	case master.Err != "":
		return false, []string{"master " + master.Addr + ": " + master.Err}
	case !master.Master:
		return false, []string{"master " + master.Addr + ": reports role replica"}
	}
	for _, r := range replicas {
		why := ""
		switch {
		case r.Err != "":
			why = r.Err
		case r.Master:
			why = "reports role master"
		case !r.LinkUp:
			why = "master link down"
		case r.Syncing:
			why = "full sync in progress"
		case r.ReplID != master.ReplID:
			why = "not yet on the restored master's replication history " + master.ReplID
		case r.Digest != "" && master.Digest != "":
			if r.Digest != master.Digest {
				why = "DEBUG DIGEST " + r.Digest + " differs from the master's " + master.Digest
			}
		case !maps.Equal(r.Keys, master.Keys):
			why = fmt.Sprintf("key counts %s differ from the master's %s", keyCounts(r.Keys), keyCounts(master.Keys))
		}
		if why != "" {
			waiting = append(waiting, "replica "+r.Addr+": "+why)
		}
	}
	return len(waiting) == 0, waiting
}

func keyCounts(m map[int]int64) string {
	var parts []string
	for _, db := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("db%d=%d", db, m[db]))
	}
	if len(parts) == 0 {
		return "(empty)"
	}
	return strings.Join(parts, ",")
}

// Frozen is a replica whose replica-priority a restore set to 0, and the
// value to put back.
type Frozen struct {
	Addr     string `json:"addr"`
	Priority string `json:"priority"`
}

// SetPlan is the replication set a restore goes into, for the plan.
type SetPlan struct {
	MasterName string   `json:"masterName"`
	Master     string   `json:"master"`
	Replicas   []Frozen `json:"replicas"`
	Sentinels  []string `json:"sentinels"`
}

// ReplicatedSteps wraps the steps that install a backup on the master
// (Steps; its first step verifies the backup) in the sequence that keeps a
// Sentinel set safe: no replica can be promoted while the master is down
// or holds other data than its replicas, and control goes back to
// Sentinel only when every replica has resynced from the restored master.
func ReplicatedSteps(set SetPlan, master []string) []string {
	var reps, prios []string
	for _, r := range set.Replicas {
		reps = append(reps, r.Addr)
		prios = append(prios, r.Addr+"="+r.Priority)
	}
	steps := []string{}
	if len(master) > 0 {
		steps = append(steps, master[0])
		master = master[1:]
	}
	steps = append(steps,
		fmt.Sprintf("check that the Sentinels (%s) agree that %s is the master of %s, that no failover is running and every replica (%s) is reachable",
			strings.Join(set.Sentinels, ", "), set.Master, set.MasterName, strings.Join(reps, ", ")),
		fmt.Sprintf("freeze failover: CONFIG SET replica-priority 0 on every replica (now %s), so no Sentinel can promote a replica holding the old data; wait until every Sentinel reports priority 0 for each",
			strings.Join(prios, ", ")))
	for _, s := range master {
		steps = append(steps, "on the master "+set.Master+": "+s)
	}
	steps = append(steps,
		"check that the Sentinels still name "+set.Master+" as master and that it runs as master, so no replica's full sync can overwrite it",
		"wait until every replica has fully resynced from the restored master: master_link_status:up, no sync running, the master's replication ID, and its DEBUG DIGEST (key counts where DEBUG is disabled)",
		"hand control back to Sentinel: put back each replica's replica-priority ("+strings.Join(prios, ", ")+") and wait until the Sentinels see it",
		"on failure or Ctrl-C: the priorities are put back all the same; until the master restarts on the restored file every node keeps its old data")
	return steps
}

// FreezeRecord is what a restore into a Sentinel set stores before it
// freezes failover (storage.FreezeName): the priorities to put back, and a
// lease the running restore renews. A record whose lease has run out
// belongs to a restore that died while the set was frozen; the next run
// puts its priorities back.
type FreezeRecord struct {
	MasterName string    `json:"masterName"`
	Master     string    `json:"master"`
	Replicas   []Frozen  `json:"replicas"`
	Holder     string    `json:"holder"` // host and pid of the restore
	Started    time.Time `json:"started"`
	Expires    time.Time `json:"expires"` // the lease; renewed while the restore runs
}

// Stale reports whether the restore that wrote f can no longer be running
// at now: its lease ran out without a renewal.
func (f FreezeRecord) Stale(now time.Time) bool { return now.After(f.Expires) }

// ReplicationPlan is a master with replicas and no Sentinel (the Bitnami
// chart's replication architecture) that a restore goes into, for the
// plan: pods or addresses.
type ReplicationPlan struct {
	Master   string   `json:"master"`
	Replicas []string `json:"replicas"`
}

// ReplicationSteps wraps the steps that install a backup on the master of
// a replication set without Sentinel (Steps; the first stages the backup
// while the master serves). With no Sentinel there is no failover to
// freeze: the replicas cannot take over, and they cannot sync from the
// master while it is stopped or loading, so they keep their old data until
// the master runs on the restored data; then their replication history no
// longer matches and each fully resyncs from it. The restore ends when
// every replica holds the restored master's data.
func ReplicationSteps(set ReplicationPlan, master []string) []string {
	steps := []string{fmt.Sprintf("check that every replica (%s) replicates from the master %s with its link up and has no replicas of its own, and that no Sentinel watches the set",
		strings.Join(set.Replicas, ", "), set.Master)}
	for _, s := range master {
		steps = append(steps, "on the master "+set.Master+": "+s)
	}
	steps = append(steps,
		"the replicas serve their old data, read-only, until the master runs on the restored data: they cannot sync from it while it is stopped or loading",
		"wait until every replica has fully resynced from the restored master: master_link_status:up, no sync running, the master's replication ID, and its DEBUG DIGEST (key counts where DEBUG is disabled)",
		"on failure before the master restarts every node keeps its old data; after it, the master's previous data is kept as "+PreRestoreSuffix)
	return steps
}
