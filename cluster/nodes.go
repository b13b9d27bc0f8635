package cluster

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Migration is a slot that a node is moving: migrating to Peer, or
// importing from it (CLUSTER SETSLOT ... MIGRATING or IMPORTING).
type Migration struct {
	Slot      int
	Node      string // the node that reports it (the myself line)
	Peer      string
	Importing bool
}

func (m Migration) String() string {
	if m.Importing {
		return fmt.Sprintf("slot %d importing into %s from %s", m.Slot, m.Node, m.Peer)
	}
	return fmt.Sprintf("slot %d migrating from %s to %s", m.Slot, m.Node, m.Peer)
}

// CheckMigrations refuses a backup or a replay while any slot moves,
// naming them: keys of a moving slot are split between two nodes, so no
// set of per-shard snapshots holds the slot whole.
func CheckMigrations(ms []Migration) error {
	if len(ms) == 0 {
		return nil
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Slot - b.Slot })
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return fmt.Errorf("%w: %s; finish or cancel the resharding (redis-cli --cluster fix, or CLUSTER SETSLOT <slot> STABLE) and try again",
		ErrNotReady, strings.Join(parts, ", "))
}

// ParseNodes reads a CLUSTER NODES reply: the topology, the slots the
// replying node (the myself line) migrates or imports, and that node's id.
// Other nodes' migrations are not in the reply: ask every master.
//
// Each line is: id ip:port@cport[,hostname] flags master ping-sent
// pong-recv config-epoch link-state slot... (src/cluster_legacy.c
// clusterGenNodeDescription).
func ParseNodes(text string) (Topology, []Migration, string, error) {
	var (
		masters  = map[string]*Shard{}
		order    []string
		replicas []replicaOf
		migs     []Migration
		myself   string
	)
	for ln, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return Topology{}, nil, "", fmt.Errorf("CLUSTER NODES line %d has %d fields, want at least 8: %q", ln+1, len(f), line)
		}
		flags := strings.Split(f[2], ",")
		if slices.Contains(flags, "noaddr") || slices.Contains(flags, "handshake") {
			continue // not a member yet, or a forgotten address
		}
		n := Node{ID: f[0], Health: HealthOnline}
		addr, host, _ := strings.Cut(f[1], ",")
		n.Addr, _, _ = strings.Cut(addr, "@")
		n.Hostname = host
		if slices.Contains(flags, "fail") || slices.Contains(flags, "fail?") || f[7] != "connected" {
			n.Health = HealthFail
		}
		if slices.Contains(flags, "myself") {
			myself = n.ID
			n.Health = HealthOnline // a node's own link state is always "connected"
		}
		switch {
		case slices.Contains(flags, "master"):
			n.Role = RoleMaster
			s := &Shard{Master: n}
			for _, tok := range f[8:] {
				if strings.HasPrefix(tok, "[") {
					m, err := parseMigration(tok, n.ID)
					if err != nil {
						return Topology{}, nil, "", fmt.Errorf("CLUSTER NODES line %d: %w", ln+1, err)
					}
					migs = append(migs, m)
					continue
				}
				r, err := parseRange(tok)
				if err != nil {
					return Topology{}, nil, "", fmt.Errorf("CLUSTER NODES line %d: %w", ln+1, err)
				}
				s.Slots = append(s.Slots, r)
			}
			masters[n.ID] = s
			order = append(order, n.ID)
		case slices.Contains(flags, "slave"):
			n.Role = RoleReplica
			replicas = append(replicas, replicaOf{f[3], n})
			if n.ID == myself {
				for _, tok := range f[8:] { // a replica shows no slots, but be strict
					if strings.HasPrefix(tok, "[") {
						m, err := parseMigration(tok, n.ID)
						if err != nil {
							return Topology{}, nil, "", fmt.Errorf("CLUSTER NODES line %d: %w", ln+1, err)
						}
						migs = append(migs, m)
					}
				}
			}
		}
	}
	for _, r := range replicas {
		if s := masters[r.master]; s != nil {
			s.Replicas = append(s.Replicas, r.n)
		}
	}
	var t Topology
	for _, id := range order {
		t.Shards = append(t.Shards, *masters[id])
	}
	t.Normalize()
	return t, migs, myself, nil
}

// replicaOf is a replica line, before its master's line may have been read.
type replicaOf struct {
	master string
	n      Node
}

// parseRange reads "5461" or "0-5460".
func parseRange(tok string) (Range, error) {
	a, b, isRange := strings.Cut(tok, "-")
	start, err := strconv.Atoi(a)
	end := start
	if err == nil && isRange {
		end, err = strconv.Atoi(b)
	}
	if err != nil || start < 0 || end < start || end >= Slots {
		return Range{}, fmt.Errorf("bad slot range %q", tok)
	}
	return Range{start, end}, nil
}

// parseMigration reads "[93->-<peer>]" (migrating) or "[93-<-<peer>]"
// (importing).
func parseMigration(tok, node string) (Migration, error) {
	body := strings.TrimSuffix(strings.TrimPrefix(tok, "["), "]")
	var slot, peer string
	var importing bool
	if s, p, ok := strings.Cut(body, "->-"); ok {
		slot, peer = s, p
	} else if s, p, ok := strings.Cut(body, "-<-"); ok {
		slot, peer, importing = s, p, true
	} else {
		return Migration{}, fmt.Errorf("bad slot migration %q", tok)
	}
	n, err := strconv.Atoi(slot)
	if err != nil || n < 0 || n >= Slots {
		return Migration{}, fmt.Errorf("bad slot in migration %q", tok)
	}
	return Migration{Slot: n, Node: node, Peer: peer, Importing: importing}, nil
}
