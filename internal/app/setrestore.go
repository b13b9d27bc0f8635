package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// sentinelRefresh bounds the wait for every Sentinel to see a changed
// replica-priority: they ask each replica for INFO every 10 s.
const sentinelRefresh = time.Minute

// syncTimeout bounds the wait for the replicas to resync after a restore
// when the restore has no timeout of its own.
const syncTimeout = 30 * time.Minute

// thawTimeout bounds putting replica-priority back after a restore, on a
// fresh context so that Ctrl-C still does it.
const thawTimeout = 2 * time.Minute

// restorable checks that s can be restored into safely: every Sentinel of
// the set answered (num-other-sentinels), none sees a failover running or
// the master down, and every replica answers, so that each can be frozen.
func (s *replicaSet) restorable(ctx context.Context) error {
	var problems []string
	for _, c := range s.sentinels {
		m, err := c.Master(ctx, s.o.MasterName)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		for _, f := range []string{"failover_in_progress", "s_down", "o_down", "promoted"} {
			if m.Has(f) {
				problems = append(problems, fmt.Sprintf("Sentinel %s flags the master %s", c.Addr(), f))
			}
		}
		if n := 1 + m.Others; n > len(s.sentinels) {
			problems = append(problems, fmt.Sprintf("Sentinel %s knows %d Sentinels, rdbak reached %d: give every Sentinel of the set (sentinel.addresses), or no restore can make sure none fails over", c.Addr(), n, len(s.sentinels)))
		}
	}
	for _, r := range s.replicas {
		if r.Problem != "" {
			problems = append(problems, "replica "+r.Addr+": "+r.Problem+" (a replica rdbak cannot freeze could be promoted with the old data;"+
				" if it is gone for good, make the Sentinels forget it with SENTINEL RESET "+s.o.MasterName+" on each)")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: the Sentinel set %s is not in a state to restore into: %s", restore.ErrRefused, s.o.MasterName, strings.Join(problems, "; "))
	}
	return nil
}

// freeze sets replica-priority 0 on every replica, so that no Sentinel
// promotes one (Sentinel skips priority-0 replicas on every version), and
// waits until every Sentinel reports priority 0 for each. With a record
// store, it first records the priorities to put back and holds the
// record's lease until stop is called (lost is called if the lease runs
// out). It returns the priorities to put back; on failure it has put back
// what it changed.
func (s *replicaSet) freeze(ctx context.Context, poll time.Duration, lost func(error)) (frozen []restore.Frozen, stop func(), err error) {
	stop = func() {}
	fail := func(err error) ([]restore.Frozen, func(), error) {
		stop()
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), thawTimeout)
		defer cancel()
		return nil, nil, errors.Join(err, s.thaw(tctx, frozen, poll))
	}
	var read []restore.Frozen
	for _, r := range s.replicas {
		c := s.o.node(r.Addr)
		prio, err := c.ConfigGet(ctx, "replica-priority")
		_ = c.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("freeze failover: read replica-priority of replica %s: %w", r.Addr, err)
		}
		read = append(read, restore.Frozen{Addr: r.Addr, Priority: prio})
	}
	if f := s.record; f != nil {
		rec := restore.FreezeRecord{MasterName: s.o.MasterName, Master: s.master.Addr, Replicas: read}
		if err := f.take(ctx, &rec); err != nil {
			if errors.Is(err, storage.ErrRecordExists) {
				err = fmt.Errorf("%w of %s (it appeared since rdbak checked): %w", ErrFrozenByOther, f.target, err)
			}
			return nil, nil, fmt.Errorf("freeze failover: record the priorities to put back: %w", err)
		}
		hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() {
			defer close(done)
			f.hold(hctx, rec, s.logger(), lost)
		}()
		stop = func() { cancel(); <-done }
	}
	for _, r := range read {
		c := s.o.node(r.Addr)
		err := c.ConfigSet(ctx, "replica-priority", "0")
		_ = c.Close()
		frozen = append(frozen, r) // put back even when the answer was lost
		if err != nil {
			return fail(fmt.Errorf("freeze failover: set replica-priority 0 on replica %s: %w", r.Addr, err))
		}
	}
	want := map[string]int{}
	for _, f := range frozen {
		want[f.Addr] = 0
	}
	if s.log != nil {
		s.log.InfoContext(ctx, "restore step", "step", "wait for every Sentinel to see replica-priority 0")
	}
	if err := s.sentinelsSee(ctx, want, poll); err != nil {
		return fail(fmt.Errorf("freeze failover: %w", err))
	}
	return frozen, stop, nil
}

func (s *replicaSet) logger() *slog.Logger {
	if s.log != nil {
		return s.log
	}
	return slog.New(slog.DiscardHandler)
}

// thaw puts back the replica-priority of every frozen replica and waits
// until the Sentinels see it; then it deletes the freeze record, if any.
// An error names what to put back by hand, and leaves the record for the
// next run.
func (s *replicaSet) thaw(ctx context.Context, frozen []restore.Frozen, poll time.Duration) error {
	var errs []error
	want := map[string]int{}
	for _, f := range frozen {
		c := s.o.node(f.Addr)
		err := c.ConfigSet(ctx, "replica-priority", f.Priority)
		_ = c.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("put back replica-priority %s on replica %s (run CONFIG SET replica-priority %s on it by hand): %w", f.Priority, f.Addr, f.Priority, err))
			continue
		}
		want[f.Addr], _ = strconv.Atoi(f.Priority)
	}
	if len(want) > 0 {
		if err := s.sentinelsSee(ctx, want, poll); err != nil {
			errs = append(errs, fmt.Errorf("replica-priority is back on the replicas, but: %w", err))
		}
	}
	if len(errs) == 0 && s.record != nil {
		if err := s.record.repo.DeleteFreeze(ctx, s.record.target); err != nil {
			errs = append(errs, fmt.Errorf("replica-priority is back on the replicas, but: %w", err))
		}
	}
	return errors.Join(errs...)
}

// sentinelsSee waits until every Sentinel lists each replica of want with
// that priority (Sentinels refresh a replica's INFO every 10 s).
func (s *replicaSet) sentinelsSee(ctx context.Context, want map[string]int, poll time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, sentinelRefresh)
	defer cancel()
	var last string
	err := kube.Poll(ctx, poll, "the Sentinels to see the replicas' replica-priority", func(ctx context.Context) (bool, error) {
		for _, c := range s.sentinels {
			reps, err := c.Replicas(ctx, s.o.MasterName)
			if err != nil {
				if ctx.Err() == nil { // else keep what was seen before the deadline
					last = err.Error()
				}
				return false, nil
			}
			seen := map[string]int{}
			for _, r := range reps {
				seen[r.Addr] = r.Priority
			}
			for addr, p := range want {
				if got, ok := seen[addr]; !ok || got != p {
					last = fmt.Sprintf("Sentinel %s reports priority %d for %s, not yet %d", c.Addr(), got, addr, p)
					return false, nil
				}
			}
		}
		return true, nil
	})
	if err != nil && last != "" {
		return fmt.Errorf("%w (%s)", err, last)
	}
	return err
}

// member asks one node for what restore.InSync compares.
func (s *replicaSet) member(ctx context.Context, addr string) restore.SetMember {
	c := s.o.node(addr)
	defer c.Close()
	return memberOf(ctx, c, addr)
}

// memberOf asks the node c (at addr) for what restore.InSync compares.
func memberOf(ctx context.Context, c *redis.Client, addr string) restore.SetMember {
	m := restore.SetMember{Addr: addr}
	in, err := c.Info(ctx, "replication", "keyspace")
	if err != nil {
		m.Err = err.Error()
		return m
	}
	r := in.Replication
	m.Master, m.LinkUp, m.Syncing, m.ReplID, m.Keys = r.IsMaster(), r.MasterLinkUp, r.SyncInProgress, r.MasterReplID, in.DBKeys()
	if d, err := c.Digest(ctx); err == nil {
		m.Digest = d
	} else if !errors.Is(err, redis.ErrUnknownCommand) && !errors.Is(err, redis.ErrNoPerm) && !strings.Contains(err.Error(), "DEBUG command not allowed") {
		m.Err = err.Error()
	}
	return m
}

// stillMaster checks that the Sentinels agree the master is the one the
// restore went into, and that it runs as master.
func (s *replicaSet) stillMaster(ctx context.Context) error {
	master, _, clients, err := askSentinels(ctx, s.o)
	closeAll(clients)
	if err != nil {
		return err
	}
	if master != s.master.Addr {
		return fmt.Errorf("the Sentinels name %s as master, not %s, where the backup was restored: a failover ran despite the freeze", master, s.master.Addr)
	}
	if m := s.member(ctx, master); m.Err != "" || !m.Master {
		return fmt.Errorf("the restored master %s does not run as master (%s): its data may be overwritten by a full sync", master, m.Err)
	}
	return nil
}

// waitInSync waits until every replica holds the restored master's data
// (restore.InSync).
func (s *replicaSet) waitInSync(ctx context.Context, poll, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = syncTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var waiting []string
	err := kube.Poll(ctx, poll, "every replica to resync from the restored master", func(ctx context.Context) (bool, error) {
		master := s.member(ctx, s.master.Addr)
		var reps []restore.SetMember
		for _, r := range s.replicas {
			reps = append(reps, s.member(ctx, r.Addr))
		}
		var ok bool
		ok, waiting = restore.InSync(master, reps)
		return ok, nil
	})
	if err != nil && len(waiting) > 0 {
		return fmt.Errorf("%w: %s", err, strings.Join(waiting, "; "))
	}
	return err
}

// restoreIntoSet runs install, the restore of the master itself (e.g.
// restore.Apply through a rollout), inside the safe sequence of
// restore.ReplicatedSteps: freeze failover, install, check the master kept
// its role, wait for every replica to resync, and put the priorities back
// whatever happens, Ctrl-C included.
func restoreIntoSet(ctx context.Context, s *replicaSet, log *slog.Logger, poll, timeout time.Duration, install func(ctx context.Context) error) (err error) {
	s.log = log
	if _, err := s.thawLeftover(ctx, log, poll); err != nil {
		return err
	}
	log.InfoContext(ctx, "restore step", "step", "freeze failover")
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	frozen, stop, err := s.freeze(ctx, poll, cancel)
	if err != nil {
		return err
	}
	defer func() {
		stop()
		log.InfoContext(ctx, "restore step", "step", "hand control back to Sentinel")
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), thawTimeout)
		defer cancel()
		if terr := s.thaw(tctx, frozen, poll); terr != nil {
			err = errors.Join(err, terr)
		}
		if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
			err = errors.Join(err, cause)
		}
	}()
	if testFrozenHook != nil {
		testFrozenHook()
	}
	if err := install(ctx); err != nil {
		return err
	}
	log.InfoContext(ctx, "restore step", "step", "check the master")
	if err := s.stillMaster(ctx); err != nil {
		return err
	}
	log.InfoContext(ctx, "restore step", "step", "wait for the replicas to resync")
	return s.waitInSync(ctx, poll, timeout)
}

// testFrozenHook, when set by a test, runs while the set is frozen, before
// the install.
var testFrozenHook func()

// setPlan describes s for the plan.
func (s *replicaSet) setPlan(ctx context.Context) restore.SetPlan {
	p := restore.SetPlan{MasterName: s.o.MasterName, Master: s.master.Addr}
	for _, c := range s.sentinels {
		p.Sentinels = append(p.Sentinels, c.Addr())
	}
	for _, r := range s.replicas {
		prio := "?"
		c := s.o.node(r.Addr)
		if v, err := c.ConfigGet(ctx, "replica-priority"); err == nil {
			prio = v
		}
		_ = c.Close()
		p.Replicas = append(p.Replicas, restore.Frozen{Addr: r.Addr, Priority: prio})
	}
	return p
}
