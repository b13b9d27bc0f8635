package backup

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// ErrNoAgreement means the Sentinels of a set do not agree, by their
// quorum, on which node is the master (a failover is running, or they are
// partitioned): no node can be backed up as "the set" until they do.
var ErrNoAgreement = errors.New("the Sentinels do not agree on the master")

// SentinelAnswer is what one Sentinel said about the set's master.
type SentinelAnswer struct {
	Sentinel string
	Master   string // host:port; "" when Err
	Quorum   int    // the quorum it is configured with; 0 unknown
	Err      error
}

// AgreeOnMaster returns the master that at least quorum Sentinels, and
// more than half of those that answered, name; quorum is the largest any
// Sentinel reported (at least 1). Errors wrap ErrNoAgreement and list
// what each Sentinel said.
func AgreeOnMaster(answers []SentinelAnswer) (master string, votes int, err error) {
	quorum := 1
	count := map[string]int{}
	answered := 0
	for _, a := range answers {
		if a.Err != nil {
			continue
		}
		answered++
		count[a.Master]++
		quorum = max(quorum, a.Quorum)
	}
	for m, n := range count {
		if n > votes {
			master, votes = m, n
		}
	}
	if answered > 0 && votes >= quorum && 2*votes > answered {
		return master, votes, nil
	}
	var said []string
	for _, a := range answers {
		if a.Err != nil {
			said = append(said, a.Sentinel+": "+a.Err.Error())
		} else {
			said = append(said, a.Sentinel+" names "+a.Master)
		}
	}
	if answered == 0 {
		return "", 0, fmt.Errorf("%w: no Sentinel answered: %s; check the Sentinel addresses (--sentinel, sentinel.addresses), their password and the network",
			ErrNoAgreement, strings.Join(said, "; "))
	}
	return "", 0, fmt.Errorf("%w (quorum %d of %d answering): %s; retry when the failover has finished, or check the Sentinels' network",
		ErrNoAgreement, quorum, answered, strings.Join(said, "; "))
}

// Node is one data node of a replication set, as it and the Sentinels
// report it.
type Node struct {
	Addr string
	// Problem says why the node cannot be used ("" when it can): flagged
	// down by the Sentinels, unreachable, or not in the role expected.
	Problem string
	// LinkUp: a replica's master_link_status is up.
	LinkUp bool
	// Priority is replica-priority: 0 means Sentinel never promotes it.
	Priority int
	// Offset is the node's replication offset (master_repl_offset).
	Offset int64
}

// ChooseOptions bound the choice of a backup source.
type ChooseOptions struct {
	// PreferMaster backs up the master even when a replica qualifies.
	PreferMaster bool
	// MaxLag is how many bytes of replication stream a replica may be
	// behind the master and still qualify; 0 means DefaultMaxLag.
	MaxLag int64
}

// DefaultMaxLag is the replication lag a replica may have and still be
// backed up: 1 MiB of replication stream.
const DefaultMaxLag = 1 << 20

// Choice is the node a backup streams from, and why.
type Choice struct {
	Node   Node
	Master bool
	Reason string
}

// ChooseSource picks the node to back up: by default the healthy replica
// with the smallest lag (link up, not flagged down, at most MaxLag bytes
// behind), among those Sentinel may promote first; a replica with
// replica-priority 0 only when no other qualifies; the master when no
// replica qualifies or PreferMaster. Reason names the choice and why every
// other replica was passed over.
func ChooseSource(master Node, replicas []Node, o ChooseOptions) Choice {
	if o.MaxLag <= 0 {
		o.MaxLag = DefaultMaxLag
	}
	if o.PreferMaster {
		return Choice{Node: master, Master: true, Reason: "the master, as asked (prefer master)"}
	}
	type cand struct {
		n   Node
		lag int64
	}
	var good, zero []cand
	var skipped []string
	for _, r := range replicas {
		lag := max(master.Offset-r.Offset, 0)
		switch {
		case r.Problem != "":
			skipped = append(skipped, r.Addr+": "+r.Problem)
		case !r.LinkUp:
			skipped = append(skipped, r.Addr+": master link down")
		case lag > o.MaxLag:
			skipped = append(skipped, fmt.Sprintf("%s: %d bytes behind the master (more than %d)", r.Addr, lag, o.MaxLag))
		case r.Priority == 0:
			zero = append(zero, cand{r, lag})
		default:
			good = append(good, cand{r, lag})
		}
	}
	pick := func(cs []cand) cand {
		sort.SliceStable(cs, func(i, j int) bool {
			if cs[i].lag != cs[j].lag {
				return cs[i].lag < cs[j].lag
			}
			return cs[i].n.Addr < cs[j].n.Addr
		})
		return cs[0]
	}
	why := func(c cand, what string) Choice {
		reason := fmt.Sprintf("replica %s: %s, link up, %d bytes behind the master", c.n.Addr, what, c.lag)
		if len(skipped) > 0 {
			reason += "; passed over " + strings.Join(skipped, "; ")
		}
		return Choice{Node: c.n, Reason: reason}
	}
	switch {
	case len(good) > 0:
		for _, z := range zero {
			skipped = append(skipped, z.n.Addr+": replica-priority 0, used only when no other replica qualifies")
		}
		return why(pick(good), fmt.Sprintf("the least behind of %d healthy replicas", len(good)))
	case len(zero) > 0:
		return why(pick(zero), "replica-priority 0, the only kind of healthy replica")
	}
	reason := "the master: no replica qualifies"
	if len(replicas) == 0 {
		reason = "the master: it has no replicas"
	}
	if len(skipped) > 0 {
		reason += " (" + strings.Join(skipped, "; ") + ")"
	}
	return Choice{Node: master, Master: true, Reason: reason}
}

// Addrs lists the nodes' addresses, sorted.
func Addrs(nodes []Node) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.Addr)
	}
	slices.Sort(out)
	return out
}
