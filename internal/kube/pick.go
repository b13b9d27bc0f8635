package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Role is what INFO replication says about the Redis in one pod.
type Role struct {
	Master bool
	// LinkUp is true for a replica whose master_link_status is up.
	LinkUp bool
	// IOSecondsAgo is master_last_io_seconds_ago for a replica (-1 unknown).
	IOSecondsAgo int
	// Offset is master_repl_offset: the node's replication offset.
	Offset int64
	// Behind, for a replica, is why it cannot give a current snapshot
	// although its link is live: it did not reach its master's offset.
	Behind string
}

// MaxReplicaIdle is how stale a replica's link may be before rdbak refuses
// to back it up instead of the master.
const MaxReplicaIdle = 10

func (r Role) healthyReplica() bool {
	return !r.Master && r.LinkUp && r.IOSecondsAgo >= 0 && r.IOSecondsAgo <= MaxReplicaIdle && r.Behind == ""
}

// Pick chooses the pod to back up among Ready candidates with their roles.
// prefer is "master" (default) or "replica". Several masters are several
// independent datasets, which is an error: the target must name one.
func Pick(spec Spec, pods []corev1.Pod, roles []Role, prefer string) (int, error) {
	var masters, replicas []int
	var stale []string
	for i, r := range roles {
		switch {
		case r.Master:
			masters = append(masters, i)
		case r.healthyReplica():
			replicas = append(replicas, i)
		default:
			stale = append(stale, pods[i].Name)
		}
	}
	if prefer == "replica" && len(replicas) > 0 {
		return replicas[0], nil
	}
	switch len(masters) {
	case 1:
		return masters[0], nil
	case 0:
		if len(replicas) > 0 {
			return replicas[0], nil
		}
		return 0, fmt.Errorf("%w: %s has no master and no replica with a live master link (stale: %s)", ErrNoTarget, spec.Describe(), strings.Join(stale, ", "))
	}
	var names []string
	for _, i := range masters {
		names = append(names, pods[i].Name)
	}
	return 0, fmt.Errorf("%w: %s matches %d independent Redis masters (%s), each with its own data: name one pod (--pod %s/%s) or make one target per pod",
		ErrNoTarget, spec.Describe(), len(masters), strings.Join(names, ", "), spec.Namespace, names[0])
}
