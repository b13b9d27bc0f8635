package restore

import (
	"fmt"
	"strings"

	"github.com/rdbak/rdbak/cluster"
	"github.com/rdbak/rdbak/storage"
)

// ClusterShard is one shard of a restore of a backup set into a cluster of
// the same shape: which object goes onto which current master.
type ClusterShard struct {
	Shard  int    `json:"shard"` // index in the set (shard-N object)
	Slots  string `json:"slots"`
	Keys   uint64 `json:"keys"`
	Object string `json:"object"`
	// BackupMaster is the master's node id when the set was taken; Master
	// the current one, which may differ (a rebuilt cluster).
	BackupMaster string `json:"backupMaster"`
	Master       string `json:"master"`
	MasterAddr   string `json:"masterAddr"`
	Pod          string `json:"pod,omitempty"`
	// Replicas are the master's replicas (addresses), which resync from
	// the restored master.
	Replicas []string `json:"replicas"`
}

// ClusterPlan is a restore of a backup set into a Redis Cluster of the
// same shape, one shard per current master.
type ClusterPlan struct {
	Shards []ClusterShard `json:"shards"`
}

// MapCluster places each shard of set m onto the current master that
// serves exactly its slots (node ids may differ). A cluster of another
// shape is refused with an error wrapping cluster.ErrShape and ErrRefused
// that names what differs and points at --replay-to.
func MapCluster(m *storage.Manifest, now cluster.Topology) (*ClusterPlan, error) {
	if !m.IsSet() {
		return nil, fmt.Errorf("%w: backup %s of %s is not a cluster backup set", ErrBadRequest, m.ID, m.Target)
	}
	slots := make([][]cluster.Range, len(m.Cluster.Shards))
	for i, s := range m.Cluster.Shards {
		for _, r := range s.Slots {
			slots[i] = append(slots[i], cluster.Range{Start: r[0], End: r[1]})
		}
	}
	places, err := cluster.MapShards(slots, now)
	if err != nil {
		return nil, fmt.Errorf("%w: backup %s (%d shards) into a cluster of %d masters: %w", ErrRefused, m.ID, len(m.Cluster.Shards), len(now.Shards), err)
	}
	p := &ClusterPlan{}
	for _, pl := range places {
		s := m.Cluster.Shards[pl.Shard]
		cs := ClusterShard{Shard: pl.Shard, Slots: cluster.FormatRanges(cluster.MergeRanges(slots[pl.Shard])), Keys: s.Keys,
			Object: s.Data.Name, BackupMaster: s.Master, Master: pl.Master.ID, MasterAddr: pl.Master.Addr, Replicas: []string{}}
		for _, r := range now.Shards[now.ShardOf(pl.Master.ID)].Replicas {
			cs.Replicas = append(cs.Replicas, r.Addr)
		}
		p.Shards = append(p.Shards, cs)
	}
	return p, nil
}

// ClusterSteps lists what a restore of set id into the cluster of p does,
// for the plan users read in --dry-run.
func ClusterSteps(id string, p *ClusterPlan, l Layout) []string {
	var masters, replicas []string
	for _, s := range p.Shards {
		masters = append(masters, fmt.Sprintf("shard-%d → %s", s.Shard, s.MasterAddr))
		replicas = append(replicas, s.Replicas...)
	}
	target := l.Dir + "/" + l.DBFilename
	return []string{
		"download and verify every shard of backup " + id + " completely (sizes, SHA-256, RDB CRC-64) before any change",
		"check the cluster still has the plan's shape (same masters serving the same slots)",
		"freeze failover: CONFIG SET cluster-replica-no-failover yes on every replica (" + listOrNone(replicas) + "), so none is promoted while its master restarts",
		"on every master (" + strings.Join(masters, ", ") + "): BGSAVE the current data, turn off every save, stream the shard's verified RDB in through exec as " +
			target + TempSuffix + ", check its length and SHA-256, keep the current file as " + target + PreRestoreSuffix + " and rename the new one into place; " +
			"if any shard fails here, put every shard's previous file back: the cluster keeps its old data",
		"restart each master without saving (SHUTDOWN NOSAVE; the kubelet restarts the container in the same pod): it loads the restored RDB and keeps its nodes.conf (node id, slots, epoch); " +
			"if one does not come back, the masters not restarted get their previous file back and those restarted are restarted on theirs: the cluster keeps its old data",
		"wait until each master has loaded its shard and compare its key count with the manifest's",
		"wait until every replica has resynced from its restored master (full sync: same replication history and DEBUG DIGEST), and every node reports cluster_state:ok",
		"check every key is in a slot its master serves (CLUSTER COUNTKEYSINSLOT over its slots adds up to DBSIZE)",
		"put back cluster-replica-no-failover on every replica (also on failure and Ctrl-C)",
	}
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// ClusterNodeState is what the check after a restore learned from one
// master of the plan.
type ClusterNodeState struct {
	Shard int    // index in the set
	Addr  string // the master's address
	// State is CLUSTER INFO's cluster_state on the master.
	State string
	// Keys is DBSIZE; InSlots the keys counted in the slots it serves
	// (CLUSTER COUNTKEYSINSLOT).
	Keys, InSlots int64
}

// CheckCluster compares the restored cluster with the plan: every master
// reports cluster_state ok and holds no key outside the slots it serves.
// The key counts against the manifest are CheckLoaded's, per shard.
func CheckCluster(p *ClusterPlan, states []ClusterNodeState) error {
	var problems []string
	seen := map[int]bool{}
	for _, s := range states {
		seen[s.Shard] = true
		if s.State != "ok" {
			problems = append(problems, fmt.Sprintf("master %s (shard-%d) reports cluster_state %s", s.Addr, s.Shard, s.State))
		}
		if s.Keys != s.InSlots {
			problems = append(problems, fmt.Sprintf("master %s (shard-%d) holds %d keys, %d of them in the slots it serves: %d keys are in slots it does not own",
				s.Addr, s.Shard, s.Keys, s.InSlots, s.Keys-s.InSlots))
		}
	}
	for _, s := range p.Shards {
		if !seen[s.Shard] {
			problems = append(problems, fmt.Sprintf("master %s (shard-%d) was not checked", s.MasterAddr, s.Shard))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the restored cluster is not as the backup set says: %s", strings.Join(problems, "; "))
	}
	return nil
}

// ClusterMasterLayout refuses a cluster master whose Redis runs with
// appendonly yes: a cluster restore installs, reverts and rolls back
// dbfilename only, so the restarted master would load its old AOF.
func ClusterMasterLayout(l Layout) *Finding {
	if l.AOF.Mode == "" {
		return nil
	}
	return &Finding{Refuse: true, Check: "appendonly", Detail: l.Persistence() + ": a cluster restore installs " + l.DBFilename +
		" only, and the restarted master would load its old AOF; set appendonly no on the cluster's nodes (CONFIG SET appendonly no, and in their configuration) for the restore, or restore with --replay-to"}
}
