package cluster

import (
	"errors"
	"strings"
	"testing"
)

func TestKeySlot(t *testing.T) {
	// Values from CLUSTER KEYSLOT on Redis 7.0.15.
	tests := []struct {
		key  string
		want int
	}{
		{"", 0},
		{"foo", 12182},
		{"bar", 5061},
		{"123456789", 12739}, // the CRC16/XMODEM check value 0x31C3
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"user1000", 3443},
		{"foo{}{bar}", 8363},    // empty first tag: the whole key
		{"foo{{bar}}zap", 4015}, // the tag is "{bar"
		{"foo{bar}{zap}", 5061}, // only the first tag
		{"{bar", 4015},          // no closing brace: the whole key
	}
	for _, tt := range tests {
		if got := KeySlot([]byte(tt.key)); got != tt.want {
			t.Errorf("KeySlot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
}

const nodes7 = `07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host-4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,host-2 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003,host-3 master - 0 1426238318243 3 connected 10923-16383
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005,host-5 slave 67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 0 1426238316232 5 connected
824fe116063bc5fcf9f4ffd895bc17aee7731ac3 127.0.0.1:30006@31006,host-6 slave 292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 0 1426238317741 6 disconnected
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,host-1 myself,master - 0 0 1 connected 0-5460 [93->-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f] [77-<-67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1]
`

func TestParseNodes(t *testing.T) {
	topo, migs, myself, err := ParseNodes(nodes7)
	if err != nil {
		t.Fatal(err)
	}
	if myself != "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca" {
		t.Errorf("myself = %s", myself)
	}
	if len(topo.Shards) != 3 {
		t.Fatalf("got %d shards, want 3", len(topo.Shards))
	}
	wantSlots := []string{"0-5460", "5461-10922", "10923-16383"}
	wantMaster := []string{"127.0.0.1:30001", "127.0.0.1:30002", "127.0.0.1:30003"}
	for i, s := range topo.Shards {
		if got := FormatRanges(s.Slots); got != wantSlots[i] {
			t.Errorf("shard %d slots = %s, want %s", i, got, wantSlots[i])
		}
		if s.Master.Addr != wantMaster[i] || s.Master.Role != RoleMaster {
			t.Errorf("shard %d master = %+v, want %s", i, s.Master, wantMaster[i])
		}
		if len(s.Replicas) != 1 || s.Replicas[0].Role != RoleReplica {
			t.Errorf("shard %d replicas = %+v, want one", i, s.Replicas)
		}
	}
	if h := topo.Shards[0].Master.Hostname; h != "host-1" {
		t.Errorf("hostname = %q, want host-1", h)
	}
	if h := topo.Shards[2].Replicas[0].Health; h != HealthFail {
		t.Errorf("disconnected replica health = %s, want fail", h)
	}
	if err := topo.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	want := []Migration{
		{Slot: 93, Node: "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", Peer: "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"},
		{Slot: 77, Node: "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca", Peer: "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1", Importing: true},
	}
	if len(migs) != 2 || migs[0] != want[0] || migs[1] != want[1] {
		t.Errorf("migrations = %+v, want %+v", migs, want)
	}
	err = CheckMigrations(migs)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "slot 77 importing") || !strings.Contains(err.Error(), "slot 93 migrating") {
		t.Errorf("CheckMigrations = %v, want both slots named", err)
	}
}

func TestParseNodes62(t *testing.T) {
	// Redis 6.2 has no hostname; slots may be split.
	text := "a 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-100 102 103-16383\n" +
		"b 10.0.0.2:6379@16379 master,fail - 0 0 2 connected 101\n" +
		"c 10.0.0.3:6379@16379 handshake - 0 0 0 connected\n"
	topo, migs, _, err := ParseNodes(text)
	if err != nil || len(migs) != 0 {
		t.Fatal(err, migs)
	}
	if got := FormatRanges(topo.Shards[0].Slots); got != "0-100,102-16383" {
		t.Errorf("merged slots = %s", got)
	}
	err = topo.Check()
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "master b (10.0.0.2:6379) of slots 101 is fail") {
		t.Errorf("Check = %v, want the failing master named", err)
	}
}

func TestParseNodesBad(t *testing.T) {
	for _, text := range []string{
		"a 1:1@2 master - 0 0",
		"a 1:1@2 master - 0 0 1 connected 5-3",
		"a 1:1@2 master - 0 0 1 connected 16384",
		"a 1:1@2 myself,master - 0 0 1 connected [x->-b]",
		"a 1:1@2 myself,master - 0 0 1 connected [5=b]",
	} {
		if _, _, _, err := ParseNodes(text); err == nil {
			t.Errorf("ParseNodes(%q) = nil error", text)
		}
	}
}

func TestCheck(t *testing.T) {
	m := func(id string, rs ...Range) Shard {
		return Shard{Slots: rs, Master: Node{ID: id, Health: HealthOnline}}
	}
	tests := []struct {
		name string
		topo Topology
		want string // "" for ok
	}{
		{"full", Topology{[]Shard{m("a", Range{0, 8000}), m("b", Range{8001, 16383})}}, ""},
		{"gap", Topology{[]Shard{m("a", Range{0, 8000}), m("b", Range{8002, 16000})}}, "slots 8001,16001-16383 are served by no master"},
		{"overlap", Topology{[]Shard{m("a", Range{0, 8000}), m("b", Range{8000, 16383})}}, "slot 8000 is served by both a and b"},
		{"empty", Topology{}, "slots 0-16383 are served by no master"},
	}
	for _, tt := range tests {
		err := tt.topo.Check()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Check = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Check = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestChoose(t *testing.T) {
	master := Node{ID: "m", Role: RoleMaster, Health: HealthOnline}
	r := func(id string, health string, off int64, stale string) Node {
		return Node{ID: id, Role: RoleReplica, Health: health, Offset: off, Stale: stale}
	}
	tests := []struct {
		name     string
		replicas []Node
		want     string
		reason   string
	}{
		{"no replica", nil, "m", "the shard has no replica"},
		{"one", []Node{r("r1", HealthOnline, 5, "")}, "r1", "healthy replica"},
		{"highest offset", []Node{r("r1", HealthOnline, 5, ""), r("r2", HealthOnline, 9, "")}, "r2", "highest replication offset"},
		{"failed skipped", []Node{r("r1", HealthFail, 9, ""), r("r2", HealthOnline, 5, "")}, "r2", "r1 is fail"},
		{"stale skipped", []Node{r("r1", HealthOnline, 9, "has its master link down"), r("r2", HealthOnline, 5, "")}, "r2", "r1 has its master link down"},
		{"none healthy", []Node{r("r1", HealthLoading, 9, "")}, "m", "no healthy replica (r1 is loading)"},
	}
	for _, tt := range tests {
		got, reason := Choose(Shard{Master: master, Replicas: tt.replicas})
		if got.ID != tt.want || !strings.Contains(reason, tt.reason) {
			t.Errorf("%s: Choose = %s (%s), want %s (%s)", tt.name, got.ID, reason, tt.want, tt.reason)
		}
	}
}

func TestRouter(t *testing.T) {
	topo := Topology{[]Shard{
		{Slots: []Range{{0, 5460}}, Master: Node{ID: "a"}},
		{Slots: []Range{{5461, 10922}}, Master: Node{ID: "b"}},
		{Slots: []Range{{10923, 16383}}, Master: Node{ID: "c"}},
	}}
	r := NewRouter(topo)
	for key, want := range map[string]int{"foo": 2, "bar": 0, "{user1000}.x": 0, "123456789": 2} {
		if got := r.Shard([]byte(key)); got != want {
			t.Errorf("Shard(%q) = %d, want %d", key, got, want)
		}
	}
	if got := NewRouter(Topology{}).Shard([]byte("foo")); got != -1 {
		t.Errorf("empty router: Shard = %d, want -1", got)
	}
}
