package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/restore"
)

// replicationGroup recognises the master k reached as the master of a
// replication set without Sentinel whose replicas are all pods of the
// target (the Bitnami replication architecture, named by one selector):
// every other pod replicates from it, with its link up and no replicas of
// its own, and they are all the replicas the master counts (connected).
// It returns the set to wait on and its plan, or why the topology is not
// one rdbak understands.
func (k *kubeConn) replicationGroup(ctx context.Context, connected int) (*replicaSet, restore.ReplicationPlan, string) {
	name := func(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }
	rp := restore.ReplicationPlan{Master: name(k.pod)}
	if len(k.group) == 0 {
		return nil, rp, fmt.Sprintf("rdbak reached only pod %s, not its replicas: name the master's and the replicas' pods with one selector "+
			"(e.g. --selector app.kubernetes.io/instance=redis) and rdbak restores the master and waits until every replica has resynced", name(k.pod))
	}
	s := &replicaSet{o: SentinelOptions{User: k.user, Password: k.password, TLS: k.tls}, master: backup.Node{Addr: k.addr}}
	for _, g := range k.group {
		if g.pod == k.pod {
			continue
		}
		c := k.newClient(g.addr)
		in, err := c.Info(ctx, "replication")
		_ = c.Close()
		r := in.Replication
		why := ""
		switch {
		case err != nil:
			why = err.Error()
		case r.IsMaster():
			why = "it is a master too: the target's pods are not one replication set"
		case !replicatesFrom(r.MasterHost, k.pod):
			why = fmt.Sprintf("it replicates from %s:%s, not from the master pod %s", r.MasterHost, r.MasterPort, name(k.pod))
		case !r.MasterLinkUp:
			why = "its link to the master is down"
		case r.ConnectedSlaves > 0:
			why = fmt.Sprintf("it has %d replicas of its own (chained replication)", r.ConnectedSlaves)
		}
		if why != "" {
			return nil, rp, "pod " + name(g.pod) + ": " + why
		}
		s.replicas = append(s.replicas, backup.Node{Addr: g.addr})
		rp.Replicas = append(rp.Replicas, name(g.pod))
	}
	if len(s.replicas) != connected {
		return nil, rp, fmt.Sprintf("the master counts %d connected replicas, but %d pods of the target replicate from it: a replica outside the target would resync unwatched",
			connected, len(s.replicas))
	}
	return s, rp, ""
}

// replicatesFrom reports whether master_host names pod p: its IP, or a
// host name whose first label is the pod's name (pod.service...: a
// StatefulSet pod's DNS name, as the Bitnami chart configures replicas).
func replicatesFrom(host string, p *corev1.Pod) bool {
	if host == "" {
		return false
	}
	first, _, _ := strings.Cut(host, ".")
	return host == p.Status.PodIP || first == p.Name
}

// planReplication turns the plan of a restore into a master with replicas
// and no Sentinel into the coordinated one of restore.ReplicationSteps
// when rdbak understands the topology; otherwise the replicas' refusal
// stays, saying what rdbak would need.
func (r *Restore) planReplication(ctx context.Context, connected int) {
	set, rp, why := r.k.replicationGroup(ctx, connected)
	var findings []restore.Finding
	for _, f := range r.Plan.Findings {
		if f.Check == "replicas" {
			if set == nil {
				f.Detail += "; " + why
			} else {
				continue
			}
		}
		findings = append(findings, f)
	}
	r.Plan.Findings = findings
	if set == nil {
		return
	}
	r.repl = set
	r.Plan.Replication = &rp
	r.Plan.Findings = append(r.Plan.Findings, restore.Finding{Check: "replication set", Detail: fmt.Sprintf(
		"master %s with %d replicas (%s) and no Sentinel: the replicas resync from the restored master, and the restore waits until each holds its data",
		rp.Master, len(rp.Replicas), strings.Join(rp.Replicas, ", "))})
	r.Plan.Steps = restore.ReplicationSteps(rp, r.Plan.Steps)
}

// runReplication restores the master, then waits until every replica has
// resynced from it.
func (r *Restore) runReplication(ctx context.Context) error {
	if err := r.runMaster(ctx); err != nil {
		return err
	}
	// The master's container restarted (in place) or its pod was made
	// anew (offline): reach it afresh, by name.
	k, err := r.a.reachKube(ctx, pinnedTo(r.target, r.k.pod.Namespace, r.k.pod.Name), func(*kubeConn) []kube.Permission { return nil })
	if err != nil {
		r.Plan.Result = ""
		return fmt.Errorf("the master is restored, but reach it again to wait for the replicas: %w", err)
	}
	defer k.close()
	r.repl.master.Addr = k.addr
	r.log.Info("restore step", "step", "wait for the replicas to resync")
	if err := r.repl.waitInSync(ctx, 500*time.Millisecond, r.o.Timeout); err != nil {
		r.Plan.Result = ""
		err = fmt.Errorf("the master is restored, but not every replica has resynced from it: %w", err)
		r.a.failed(ctx, r.log, "restore failed", err)
		return err
	}
	r.log.Info("restore succeeded on the master and every replica", "replicas", len(r.repl.replicas))
	return nil
}

// pinnedTo is t naming only pod ns/name.
func pinnedTo(t *config.Target, ns, name string) *config.Target {
	pinned := *t
	kt := *t.Kubernetes
	kt.Namespace, kt.Pod, kt.StatefulSet, kt.Deployment, kt.Selector, kt.HelmRelease, kt.Component = ns, name, "", "", "", "", ""
	pinned.Kubernetes = &kt
	return &pinned
}
