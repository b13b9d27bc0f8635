package restore

import (
	"errors"
	"fmt"

	"github.com/rdbak/rdbak/cluster"
	"github.com/rdbak/rdbak/storage"
)

// checkSet refuses a cluster backup set whose manifest does not add up:
// its shards must serve every slot exactly once, and together hold the
// keys and bytes of the set's totals. Each shard verifies on its own, so a
// shard left out of a damaged or edited manifest would otherwise verify,
// and replay, as a smaller dataset that looks complete.
func checkSet(m *storage.Manifest, sum *Report) error {
	var errs []error
	var served [cluster.Slots]int
	for i, s := range m.Cluster.Shards {
		for _, r := range s.Slots {
			if r[0] < 0 || r[1] >= cluster.Slots || r[0] > r[1] {
				errs = append(errs, fmt.Errorf("shard %d has slot range %d-%d, outside 0-%d", i, r[0], r[1], cluster.Slots-1))
				continue
			}
			for slot := r[0]; slot <= r[1]; slot++ {
				served[slot]++
			}
		}
	}
	var none, twice []cluster.Range
	for slot, n := range served {
		switch {
		case n == 0:
			none = addSlot(none, slot)
		case n > 1:
			twice = addSlot(twice, slot)
		}
	}
	if len(none) > 0 {
		errs = append(errs, fmt.Errorf("no shard holds slots %s", cluster.FormatRanges(none)))
	}
	if len(twice) > 0 {
		errs = append(errs, fmt.Errorf("several shards hold slots %s", cluster.FormatRanges(twice)))
	}
	if got, want := sum.RDB.KeysTotal(), m.Keys(); got != want {
		errs = append(errs, fmt.Errorf("the shards hold %d keys, the set's total is %d", got, want))
	}
	if sum.RawSize != m.Data.RawSize {
		errs = append(errs, fmt.Errorf("the shards' RDBs are %d bytes, the set's total is %d", sum.RawSize, m.Data.RawSize))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: backup %s is a set of %d shards that does not add up: %w; a shard is missing from its manifest or the manifest was edited, so it is not the whole cluster: restore another backup",
		ErrVerify, m.ID, len(m.Cluster.Shards), errors.Join(errs...))
}

// addSlot appends slot to rs, extending the last range when it follows it.
func addSlot(rs []cluster.Range, slot int) []cluster.Range {
	if n := len(rs); n > 0 && rs[n-1].End == slot-1 {
		rs[n-1].End = slot
		return rs
	}
	return append(rs, cluster.Range{Start: slot, End: slot})
}
