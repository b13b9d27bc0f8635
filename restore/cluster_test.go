package restore

import (
	"errors"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/cluster"
	"github.com/rdbak/rdbak/storage"
)

// set is a backup set whose shard i serves slots[i], taken when master
// "old<i>" served them.
func set(slots ...[][2]int) *storage.Manifest {
	m := &storage.Manifest{ID: "20261127T120000Z", Target: "orders", Cluster: &storage.Cluster{}}
	for i, s := range slots {
		m.Cluster.Shards = append(m.Cluster.Shards, storage.Shard{Slots: s, Master: "old" + string(rune('0'+i)), Keys: uint64(10 * (i + 1)),
			Data: storage.Data{Name: storage.ShardName(i, "data.rdb.zst")}})
	}
	return m
}

func topo(shards ...cluster.Shard) cluster.Topology {
	t := cluster.Topology{Shards: shards}
	t.Normalize()
	return t
}

func shard(id, addr string, replicas []string, rs ...cluster.Range) cluster.Shard {
	s := cluster.Shard{Slots: rs, Master: cluster.Node{ID: id, Addr: addr, Role: cluster.RoleMaster, Health: cluster.HealthOnline}}
	for i, r := range replicas {
		s.Replicas = append(s.Replicas, cluster.Node{ID: id + "r" + string(rune('0'+i)), Addr: r, Role: cluster.RoleReplica, Health: cluster.HealthOnline})
	}
	return s
}

func TestMapCluster(t *testing.T) {
	three := set([][2]int{{0, 5460}}, [][2]int{{5461, 10922}}, [][2]int{{10923, 16383}})
	split := set([][2]int{{0, 100}, {200, 5460}}, [][2]int{{101, 199}, {5461, 16383}})
	tests := []struct {
		name string
		m    *storage.Manifest
		now  cluster.Topology
		// want is, per plan shard in order, "shard:master"; "" when refused.
		want    []string
		refusal []string
	}{
		{"same cluster, same ids", three, topo(
			shard("old0", "10.0.0.1:6379", []string{"10.0.0.4:6379"}, rg(0, 5460)),
			shard("old1", "10.0.0.2:6379", nil, rg(5461, 10922)),
			shard("old2", "10.0.0.3:6379", nil, rg(10923, 16383))),
			[]string{"0:old0", "1:old1", "2:old2"}, nil},
		{"fresh cluster: new ids matched by slots, listed in any order", three, topo(
			shard("c", "10.0.0.3:6379", nil, rg(10923, 16383)),
			shard("a", "10.0.0.1:6379", nil, rg(0, 5460)),
			shard("b", "10.0.0.2:6379", nil, rg(5461, 10922))),
			[]string{"0:a", "1:b", "2:c"}, nil},
		{"split ranges match as a whole, however the node lists them", split, topo(
			shard("x", "a:1", nil, rg(200, 5460), rg(0, 100)),
			shard("y", "b:1", nil, rg(101, 199), rg(5461, 10000), rg(10001, 16383))),
			[]string{"0:x", "1:y"}, nil},
		{"four masters: another shape", three, topo(
			shard("a", "a:1", nil, rg(0, 4095)),
			shard("b", "b:1", nil, rg(4096, 8191)),
			shard("c", "c:1", nil, rg(8192, 12287)),
			shard("d", "d:1", nil, rg(12288, 16383))),
			nil, []string{"3 shards", "4 masters", "slots 0-5460 of backed-up shard 0", "master d (d:1) serves slots 12288-16383", "--replay-to"}},
		{"one slot moved since", three, topo(
			shard("a", "a:1", nil, rg(0, 5461)),
			shard("b", "b:1", nil, rg(5462, 10922)),
			shard("c", "c:1", nil, rg(10923, 16383))),
			nil, []string{"slots 5461-10922 of backed-up shard 1", "master a (a:1) serves slots 0-5461", "--replay-to"}},
	}
	for _, tt := range tests {
		p, err := MapCluster(tt.m, tt.now)
		if tt.refusal != nil {
			if !errors.Is(err, ErrRefused) || !errors.Is(err, cluster.ErrShape) {
				t.Errorf("%s: MapCluster = %v, want ErrRefused and cluster.ErrShape", tt.name, err)
				continue
			}
			for _, w := range tt.refusal {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not say %q", tt.name, err, w)
				}
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: MapCluster: %v", tt.name, err)
			continue
		}
		var got []string
		for _, s := range p.Shards {
			got = append(got, string(rune('0'+s.Shard))+":"+s.Master)
			if want := tt.m.Cluster.Shards[s.Shard]; s.Keys != want.Keys || s.Object != want.Data.Name || s.BackupMaster != want.Master {
				t.Errorf("%s: shard %d = %+v, want keys %d, object %s, backup master %s", tt.name, s.Shard, s, want.Keys, want.Data.Name, want.Master)
			}
		}
		if strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s: placements %v, want %v", tt.name, got, tt.want)
		}
	}
	if p, _ := MapCluster(three, tests[0].now); len(p.Shards[0].Replicas) != 1 || p.Shards[0].Replicas[0] != "10.0.0.4:6379" {
		t.Errorf("shard 0 replicas = %v, want the master's one replica", p.Shards[0].Replicas)
	}
	if _, err := MapCluster(&storage.Manifest{ID: "x"}, tests[0].now); !errors.Is(err, ErrBadRequest) {
		t.Errorf("MapCluster of a one-node backup = %v, want ErrBadRequest", err)
	}
}

func TestCheckCluster(t *testing.T) {
	p := &ClusterPlan{Shards: []ClusterShard{{Shard: 0, MasterAddr: "a:1"}, {Shard: 1, MasterAddr: "b:1"}}}
	tests := []struct {
		name   string
		states []ClusterNodeState
		want   string // "" for ok
	}{
		{"all ok", []ClusterNodeState{{0, "a:1", "ok", 10, 10}, {1, "b:1", "ok", 0, 0}}, ""},
		{"cluster failing", []ClusterNodeState{{0, "a:1", "fail", 10, 10}, {1, "b:1", "ok", 5, 5}}, "master a:1 (shard-0) reports cluster_state fail"},
		{"keys outside the master's slots", []ClusterNodeState{{0, "a:1", "ok", 10, 7}, {1, "b:1", "ok", 5, 5}}, "3 keys are in slots it does not own"},
		{"a master not checked", []ClusterNodeState{{0, "a:1", "ok", 10, 10}}, "master b:1 (shard-1) was not checked"},
	}
	for _, tt := range tests {
		err := CheckCluster(p, tt.states)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: CheckCluster = %v, want ok", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: CheckCluster = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestClusterSteps(t *testing.T) {
	p := &ClusterPlan{Shards: []ClusterShard{{Shard: 0, MasterAddr: "a:1", Replicas: []string{"r:1"}}, {Shard: 1, MasterAddr: "b:1", Replicas: []string{}}}}
	steps := strings.Join(ClusterSteps("ID", p, Layout{Dir: "/data", DBFilename: "dump.rdb"}), "\n")
	for _, w := range []string{"verify every shard of backup ID", "cluster-replica-no-failover yes on every replica (r:1)", "shard-0 → a:1, shard-1 → b:1",
		"/data/dump.rdb.pre-restore", "SHUTDOWN NOSAVE", "nodes.conf", "cluster_state:ok", "COUNTKEYSINSLOT"} {
		if !strings.Contains(steps, w) {
			t.Errorf("steps do not say %q:\n%s", w, steps)
		}
	}
}

func rg(a, b int) cluster.Range { return cluster.Range{Start: a, End: b} }

// TestClusterMasterLayout: a master with appendonly yes (either AOF
// layout) is refused, naming the setting and what to do; RDB alone passes.
func TestClusterMasterLayout(t *testing.T) {
	if f := ClusterMasterLayout(Layout{Dir: "/data", DBFilename: "dump.rdb"}); f != nil {
		t.Errorf("RDB only: %+v, want no finding", f)
	}
	for _, aof := range []AOF{{Mode: "multipart", DirName: "appendonlydir", FileName: "appendonly.aof"}, {Mode: "single", FileName: "appendonly.aof"}} {
		f := ClusterMasterLayout(Layout{Dir: "/data", DBFilename: "dump.rdb", AOF: aof})
		if f == nil || !f.Refuse || f.Check != "appendonly" || !strings.Contains(f.Detail, "appendonly no") || !strings.Contains(f.Detail, "--replay-to") {
			t.Errorf("%s AOF: %+v, want a refusal naming appendonly no and --replay-to", aof.Mode, f)
		}
	}
}
