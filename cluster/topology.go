package cluster

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrNotReady means the cluster may not be backed up, or replayed into,
// now: its state is not ok, a slot is not served, or a slot is migrating
// or importing. Retrying later may succeed. Its text names neither job:
// the caller's context does.
var ErrNotReady = errors.New("cluster not ready")

// Range is an inclusive range of hash slots.
type Range struct{ Start, End int }

func (r Range) String() string {
	if r.Start == r.End {
		return strconv.Itoa(r.Start)
	}
	return strconv.Itoa(r.Start) + "-" + strconv.Itoa(r.End)
}

// Count is the number of slots in r.
func (r Range) Count() int { return r.End - r.Start + 1 }

// Roles of a node, as CLUSTER SHARDS names them.
const (
	RoleMaster  = "master"
	RoleReplica = "replica"
)

// Health of a node, as CLUSTER SHARDS names them; CLUSTER NODES' fail and
// fail? flags read as HealthFail.
const (
	HealthOnline  = "online"
	HealthFail    = "fail"
	HealthLoading = "loading"
)

// Node is one node of the cluster.
type Node struct {
	ID       string
	Addr     string // host:port of its client port, as the cluster announces it
	Hostname string // announced hostname (7.0+), "" when none
	Role     string // RoleMaster or RoleReplica
	Health   string // HealthOnline, HealthFail or HealthLoading
	Offset   int64  // replication offset, when the reply has it
	// Stale is set by the caller when the node answers but cannot give a
	// current snapshot (a replica whose master link is down or syncing),
	// with the reason.
	Stale string
}

// Shard is a master, the slots it serves and its replicas.
type Shard struct {
	Slots    []Range
	Master   Node
	Replicas []Node
}

// SlotCount is the number of slots the shard serves.
func (s Shard) SlotCount() int {
	n := 0
	for _, r := range s.Slots {
		n += r.Count()
	}
	return n
}

// Topology is the cluster's shards, in slot order (the shard serving the
// lowest slot first). Masters that serve no slot are left out.
type Topology struct {
	Shards []Shard
}

// Normalize sorts slot ranges, merges adjacent ones, drops shards without
// slots and orders shards by their first slot, so that two readings of the
// same cluster compare equal.
func (t *Topology) Normalize() {
	t.Shards = slices.DeleteFunc(t.Shards, func(s Shard) bool { return len(s.Slots) == 0 })
	for i := range t.Shards {
		t.Shards[i].Slots = MergeRanges(t.Shards[i].Slots)
		slices.SortFunc(t.Shards[i].Replicas, func(a, b Node) int { return cmp.Compare(a.ID, b.ID) })
	}
	slices.SortFunc(t.Shards, func(a, b Shard) int { return cmp.Compare(a.Slots[0].Start, b.Slots[0].Start) })
}

// MergeRanges returns rs sorted with adjacent and overlapping ranges merged.
func MergeRanges(rs []Range) []Range {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Range) int { return cmp.Compare(a.Start, b.Start) })
	var out []Range
	for _, r := range rs {
		if n := len(out); n > 0 && r.Start <= out[n-1].End+1 {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// FormatRanges writes ranges as Redis tools do: "0-5460,5462,5464-5470".
func FormatRanges(rs []Range) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// Check reports what makes t unfit to back up or to replay into: a slot
// served by no shard or by two, a shard whose master is failing. It names
// the slots (as ranges) and nodes at fault.
func (t Topology) Check() error {
	var owner [Slots]int16
	var errs []error
	for i, s := range t.Shards {
		for _, r := range s.Slots {
			if r.Start < 0 || r.End >= Slots || r.Start > r.End {
				errs = append(errs, fmt.Errorf("master %s serves slot range %d-%d, outside 0-%d", s.Master.ID, r.Start, r.End, Slots-1))
				continue
			}
			for slot := r.Start; slot <= r.End; slot++ {
				if o := owner[slot]; o != 0 {
					errs = append(errs, fmt.Errorf("slot %d is served by both %s and %s", slot, t.Shards[o-1].Master.ID, s.Master.ID))
					break
				}
				owner[slot] = int16(i + 1)
			}
		}
		if s.Master.ID == "" {
			errs = append(errs, fmt.Errorf("slots %s have no master", FormatRanges(s.Slots)))
		} else if s.Master.Health != HealthOnline {
			errs = append(errs, fmt.Errorf("master %s (%s) of slots %s is %s", s.Master.ID, s.Master.Addr, FormatRanges(s.Slots), s.Master.Health))
		}
	}
	var free []Range
	for slot := range Slots {
		if owner[slot] != 0 {
			continue
		}
		if n := len(free); n > 0 && free[n-1].End == slot-1 {
			free[n-1].End = slot
		} else {
			free = append(free, Range{slot, slot})
		}
	}
	if len(free) > 0 {
		errs = append(errs, fmt.Errorf("slots %s are served by no master", FormatRanges(free)))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrNotReady, errors.Join(errs...))
	}
	return nil
}

// ShardOf returns the index of the shard whose master has id, or -1.
func (t Topology) ShardOf(id string) int {
	for i, s := range t.Shards {
		if s.Master.ID == id {
			return i
		}
		for _, r := range s.Replicas {
			if r.ID == id {
				return i
			}
		}
	}
	return -1
}

// Router maps each slot to the shard that serves it.
type Router struct {
	owner [Slots]int16 // shard index, -1 for none
}

// NewRouter builds the router of t; t should pass Check.
func NewRouter(t Topology) *Router {
	r := &Router{}
	for i := range r.owner {
		r.owner[i] = -1
	}
	for i, s := range t.Shards {
		for _, rg := range s.Slots {
			for slot := max(rg.Start, 0); slot <= min(rg.End, Slots-1); slot++ {
				r.owner[slot] = int16(i)
			}
		}
	}
	return r
}

// Shard returns the index of the shard that serves key, or -1 when no shard
// serves its slot.
func (r *Router) Shard(key []byte) int { return int(r.owner[KeySlot(key)]) }

// Choose picks the node of s to take the snapshot from: the online, fresh
// replica with the highest replication offset, else the master (so the
// fork's memory and latency cost falls on a replica whenever one can give
// a current snapshot). reason says why, naming the replicas passed over.
func Choose(s Shard) (Node, string) {
	best := -1
	var skipped []string
	for i, n := range s.Replicas {
		switch {
		case n.Health != HealthOnline:
			skipped = append(skipped, n.ID+" is "+n.Health)
		case n.Stale != "":
			skipped = append(skipped, n.ID+" "+n.Stale)
		case best < 0 || n.Offset > s.Replicas[best].Offset:
			best = i
		}
	}
	if best >= 0 {
		reason := "healthy replica"
		if len(s.Replicas) > 1 {
			reason += " with the highest replication offset"
		}
		if len(skipped) > 0 {
			reason += " (passed over: " + strings.Join(skipped, "; ") + ")"
		}
		return s.Replicas[best], reason
	}
	if len(s.Replicas) == 0 {
		return s.Master, "master: the shard has no replica"
	}
	return s.Master, "master: no healthy replica (" + strings.Join(skipped, "; ") + ")"
}
