package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrShape means a backup set's shards do not map one to one onto the
// current masters: restore it by key replay instead.
var ErrShape = errors.New("the cluster's shape differs from the backup's")

// Placement says which backed-up shard's RDB goes to which current master
// in a restore into the same shape.
type Placement struct {
	Shard  int  // index of the shard in the backup set
	Master Node // the current master that serves exactly its slots
}

// MapShards places each backed-up shard (given by its slot ranges) onto
// the current master that serves exactly the same slots; node ids may
// differ (a rebuilt cluster). Every shard and every current master must be
// matched, or the error names what differs.
func MapShards(backup [][]Range, now Topology) ([]Placement, error) {
	var out []Placement
	var problems []string
	used := make([]bool, len(now.Shards))
	for i, slots := range backup {
		want := MergeRanges(slots)
		found := -1
		for j, s := range now.Shards {
			if !used[j] && slices.Equal(MergeRanges(s.Slots), want) {
				found = j
				break
			}
		}
		if found < 0 {
			problems = append(problems, fmt.Sprintf("no current master serves exactly the slots %s of backed-up shard %d", FormatRanges(want), i))
			continue
		}
		used[found] = true
		out = append(out, Placement{Shard: i, Master: now.Shards[found].Master})
	}
	for j, s := range now.Shards {
		if !used[j] {
			problems = append(problems, fmt.Sprintf("master %s (%s) serves slots %s, which no backed-up shard holds as such", s.Master.ID, s.Master.Addr, FormatRanges(s.Slots)))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s; restore by key replay (--replay-to) into a cluster of another shape", ErrShape, strings.Join(problems, "; "))
	}
	return out, nil
}
