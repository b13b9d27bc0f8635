package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaderOptions configures a LeaderElector.
type LeaderOptions struct {
	Namespace, Name string // of the coordination.k8s.io Lease
	// Identity names this replica in the Lease; default the host name
	// (the pod name) with a random suffix.
	Identity                                  string
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Log                                       *slog.Logger
}

// LeaderElector lets one of several rdbak daemon replicas lead, through
// client-go's leaderelection on a Lease. It satisfies daemon.Elector.
type LeaderElector struct {
	cs kubernetes.Interface
	o  LeaderOptions

	mu sync.Mutex
	le *leaderelection.LeaderElector
}

// NewLeaderElector returns an elector for the Lease o.Namespace/o.Name.
// It needs get, create and update on leases in that namespace.
func NewLeaderElector(cs kubernetes.Interface, o LeaderOptions) (*LeaderElector, error) {
	if o.Identity == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("name this replica for leader election: %w", err)
		}
		var b [4]byte
		_, _ = rand.Read(b[:])
		o.Identity = host + "_" + hex.EncodeToString(b[:])
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &LeaderElector{cs: cs, o: o}, nil
}

// Identity returns this replica's name in the Lease.
func (l *LeaderElector) Identity() string { return l.o.Identity }

// Leader returns the identity of the current leader, "" until one is seen.
func (l *LeaderElector) Leader() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.le == nil {
		return ""
	}
	return l.le.GetLeader()
}

// Run campaigns until ctx is done. While this replica leads it calls lead
// with a context that is done when leadership is lost (the lease could not
// be renewed within RenewDeadline) or ctx is done. After ctx is done it
// keeps renewing the lease until lead has returned, so that no other
// replica starts while backups of this one drain, and then releases the
// lease so another replica takes over at once. Two terms of lead never
// overlap.
func (l *LeaderElector) Run(ctx context.Context, lead func(context.Context)) error {
	electCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	var (
		mu     sync.Mutex
		term   chan struct{} // closed when the current term's lead returns
		closed bool          // Run has returned: start no term
	)
	cfg := leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: l.o.Namespace, Name: l.o.Name},
			Client:     l.cs.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: l.o.Identity},
		},
		LeaseDuration:   l.o.LeaseDuration,
		RenewDeadline:   l.o.RenewDeadline,
		RetryPeriod:     l.o.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            l.o.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(termCtx context.Context) {
				// client-go starts this in a goroutine that may run late,
				// after its term ended; a stale term's lead never starts
				// beside a newer one or after Run returned.
				done := make(chan struct{})
				mu.Lock()
				if closed || termCtx.Err() != nil {
					mu.Unlock()
					return
				}
				prev := term
				term = done
				mu.Unlock()
				if prev != nil {
					<-prev
				}
				defer close(done)
				leadCtx, cancel := context.WithCancel(termCtx)
				defer cancel()
				stopAfter := context.AfterFunc(ctx, cancel)
				defer stopAfter()
				l.o.Log.Info("leading: this replica schedules backups", "identity", l.o.Identity, "lease", l.o.Namespace+"/"+l.o.Name)
				lead(leadCtx)
			},
			OnStoppedLeading: func() {},
			OnNewLeader: func(id string) {
				if id != l.o.Identity {
					l.o.Log.Info("another replica leads", "leader", id, "lease", l.o.Namespace+"/"+l.o.Name)
				}
			},
		},
	}
	le, err := leaderelection.NewLeaderElector(cfg)
	if err != nil {
		return fmt.Errorf("set up leader election on lease %s/%s: %w", l.o.Namespace, l.o.Name, err)
	}
	l.mu.Lock()
	l.le = le
	l.mu.Unlock()
	waitTerm := func() {
		mu.Lock()
		t := term
		mu.Unlock()
		if t != nil {
			<-t
		}
	}
	go func() {
		<-ctx.Done()
		waitTerm()
		stop()
	}()
	for electCtx.Err() == nil {
		le.Run(electCtx)
		waitTerm()
		if electCtx.Err() == nil {
			l.o.Log.Warn("leadership lost; campaigning again", "identity", l.o.Identity)
		}
	}
	mu.Lock()
	closed = true
	mu.Unlock()
	waitTerm()
	return nil
}
