package cluster

import (
	"errors"
	"strings"
	"testing"
)

func TestMapShards(t *testing.T) {
	three := [][]Range{{{0, 5460}}, {{5461, 10922}}, {{10923, 16383}}}
	topo := func(slots ...[]Range) Topology {
		var t Topology
		for i, s := range slots {
			t.Shards = append(t.Shards, Shard{Slots: s, Master: Node{ID: string(rune('a' + i)), Addr: "10.0.0." + string(rune('1'+i)) + ":6379"}})
		}
		return t
	}
	tests := []struct {
		name string
		now  Topology
		want []string // master id per backed-up shard; nil when refused
		err  string
	}{
		{"same order", topo(three...), []string{"a", "b", "c"}, ""},
		{"other order, new ids", topo(three[2], three[0], three[1]), []string{"b", "c", "a"}, ""},
		{"split ranges match merged", topo([]Range{{0, 100}, {101, 5460}}, three[1], three[2]), []string{"a", "b", "c"}, ""},
		{"four masters", topo([]Range{{0, 4095}}, []Range{{4096, 8191}}, []Range{{8192, 12287}}, []Range{{12288, 16383}}), nil, "no current master serves exactly the slots 0-5460"},
		{"moved slot", topo([]Range{{0, 5459}}, []Range{{5460, 10922}}, three[2]), nil, "master a (10.0.0.1:6379) serves slots 0-5459"},
	}
	for _, tt := range tests {
		got, err := MapShards(three, tt.now)
		if tt.want == nil {
			if !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: MapShards = %v, want ErrShape with %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) {
			t.Fatalf("%s: MapShards = %+v, %v", tt.name, got, err)
		}
		for i, p := range got {
			if p.Shard != i || p.Master.ID != tt.want[i] {
				t.Errorf("%s: shard %d placed on %s, want %s", tt.name, p.Shard, p.Master.ID, tt.want[i])
			}
		}
	}
}
