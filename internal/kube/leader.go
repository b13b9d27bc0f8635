package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/internal/kubeapi"
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

// LeaderElector lets one of several rdbak daemon replicas lead, through a
// Lease, with the protocol of client-go's leaderelection (which rdbak does
// not link: it pulls in client-go's full clientset). It satisfies
// daemon.Elector.
//
// A replica takes the Lease when it has no holder, or when its record has
// not changed for LeaseDuration as seen by this replica's own clock (so
// clocks need not agree). The holder renews every RetryPeriod; every write
// carries the Lease's resourceVersion, so of two replicas racing for it
// one gets a conflict.
type LeaderElector struct {
	leases kubeapi.Objects[*coordinationv1.Lease, *coordinationv1.LeaseList]
	o      LeaderOptions

	mu       sync.Mutex
	leader   string                   // holder last seen
	observed coordinationv1.LeaseSpec // the record last seen
	seenAt   time.Time                // when it last changed
	lease    *coordinationv1.Lease    // as last read or written
	lastErr  string                   // the last error warned about
	lastWarn time.Time                // and when
}

// NewLeaderElector returns an elector for the Lease o.Namespace/o.Name.
// It needs get, create and update on leases in that namespace.
func NewLeaderElector(api kubeapi.API, o LeaderOptions) (*LeaderElector, error) {
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
	return &LeaderElector{leases: api.CoordinationV1().Leases(o.Namespace), o: o}, nil
}

// Identity returns this replica's name in the Lease.
func (l *LeaderElector) Identity() string { return l.o.Identity }

// Leader returns the identity of the current leader, "" until one is seen.
func (l *LeaderElector) Leader() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leader
}

// Run campaigns until ctx is done. While this replica leads it calls lead
// with a context that is done when leadership is lost (the lease could not
// be renewed within RenewDeadline) or ctx is done. After ctx is done it
// keeps renewing the lease until lead has returned, so that no other
// replica starts while backups of this one drain, and then releases the
// lease so another replica takes over at once. Two terms of lead never
// overlap: a term starts only after the previous one's lead returned.
func (l *LeaderElector) Run(ctx context.Context, lead func(context.Context)) error {
	o := l.o
	switch {
	case o.LeaseDuration <= o.RenewDeadline:
		return fmt.Errorf("leader election on lease %s/%s: leaseDuration (%v) must be greater than renewDeadline (%v)", o.Namespace, o.Name, o.LeaseDuration, o.RenewDeadline)
	case o.RenewDeadline <= o.RetryPeriod*6/5:
		return fmt.Errorf("leader election on lease %s/%s: renewDeadline (%v) must be greater than 1.2 × retryPeriod (%v)", o.Namespace, o.Name, o.RenewDeadline, o.RetryPeriod)
	case o.RetryPeriod <= 0:
		return fmt.Errorf("leader election on lease %s/%s: retryPeriod (%v) must be positive", o.Namespace, o.Name, o.RetryPeriod)
	}
	for {
		if !l.campaign(ctx) {
			return nil
		}
		l.o.Log.Info("leading: this replica schedules backups", "identity", o.Identity, "lease", o.Namespace+"/"+o.Name)
		l.term(ctx, lead)
		if ctx.Err() != nil {
			return nil
		}
		l.o.Log.Warn("leadership lost; campaigning again", "identity", o.Identity)
	}
}

// campaign tries to take the lease every RetryPeriod (with jitter) until
// it holds it (true) or ctx is done (false).
func (l *LeaderElector) campaign(ctx context.Context) bool {
	for {
		if l.tryAcquireOrRenew(ctx, l.o.RetryPeriod) {
			return true
		}
		if !sleep(ctx, jitter(l.o.RetryPeriod)) {
			return false
		}
	}
}

// term runs lead while renewing the lease. It returns after lead has
// returned; when ctx is done it then releases the lease.
func (l *LeaderElector) term(ctx context.Context, lead func(context.Context)) {
	leadCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(leadCtx)
	}()
	renewed := time.Now()
	tick := time.NewTicker(l.o.RetryPeriod)
	defer tick.Stop()
	for {
		select {
		case <-done:
			if ctx.Err() != nil {
				l.release()
			}
			return
		case <-tick.C:
		}
		left := l.o.RenewDeadline - time.Since(renewed)
		if left > 0 && l.tryAcquireOrRenew(context.WithoutCancel(ctx), left) {
			renewed = time.Now()
			continue
		}
		if time.Since(renewed) >= l.o.RenewDeadline {
			// Lost: another replica may take the lease once it expires.
			l.o.Log.Warn("could not renew the lease in time; stopping this term", "identity", l.o.Identity, "renewDeadline", l.o.RenewDeadline)
			cancel()
			<-done
			return
		}
	}
}

// tryAcquireOrRenew makes this replica the lease's holder, or renews it,
// within timeout. It reports whether this replica now holds the lease.
func (l *LeaderElector) tryAcquireOrRenew(ctx context.Context, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	now := time.Now()
	lease, err := l.leases.Get(ctx, l.o.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: l.o.Namespace, Name: l.o.Name}}
		lease.Spec = l.record(coordinationv1.LeaseSpec{}, now)
		created, err := l.leases.Create(ctx, lease, metav1.CreateOptions{})
		if err != nil {
			l.failed("create", err)
			return false
		}
		l.observe(created, now)
		return true
	}
	if err != nil {
		l.failed("get", err)
		return false
	}
	l.observe(lease, now)
	holder := val(lease.Spec.HolderIdentity)
	if holder != "" && holder != l.o.Identity && !l.expired(now) {
		return false
	}
	lease = lease.DeepCopy()
	lease.Spec = l.record(lease.Spec, now)
	updated, err := l.leases.Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		l.failed("update", err)
		return false
	}
	l.observe(updated, now)
	return true
}

// failed logs a refused or failed call on the lease as a warning (a
// missing RBAC rule shows as "cannot get resource "leases""), once per
// distinct error and minute. Losing a race to another replica is normal.
func (l *LeaderElector) failed(verb string, err error) {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		l.o.Log.Debug(verb+" lease: another replica wrote it first", "err", err)
		return
	}
	l.mu.Lock()
	repeat := err.Error() == l.lastErr && time.Since(l.lastWarn) < time.Minute
	if !repeat {
		l.lastErr, l.lastWarn = err.Error(), time.Now()
	}
	l.mu.Unlock()
	if !repeat {
		l.o.Log.Warn("leader election: "+verb+" lease "+l.o.Namespace+"/"+l.o.Name+" failed; no replica leads until it succeeds", "err", err)
	}
}

// record is the lease's spec with this replica holding it from now.
func (l *LeaderElector) record(old coordinationv1.LeaseSpec, now time.Time) coordinationv1.LeaseSpec {
	t := metav1.NewMicroTime(now)
	secs := int32(l.o.LeaseDuration / time.Second)
	if secs < 1 {
		secs = 1
	}
	spec := coordinationv1.LeaseSpec{
		HolderIdentity:       &l.o.Identity,
		LeaseDurationSeconds: &secs,
		AcquireTime:          &t,
		RenewTime:            &t,
		LeaseTransitions:     old.LeaseTransitions,
	}
	if val(old.HolderIdentity) == l.o.Identity {
		spec.AcquireTime = old.AcquireTime
		return spec
	}
	n := val(old.LeaseTransitions)
	if old.HolderIdentity != nil {
		n++
	}
	spec.LeaseTransitions = &n
	return spec
}

// observe notes the lease as read or written at now.
func (l *LeaderElector) observe(lease *coordinationv1.Lease, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !equalRecord(lease.Spec, l.observed) || l.seenAt.IsZero() {
		l.observed, l.seenAt = *lease.Spec.DeepCopy(), now
	}
	l.lease = lease
	if h := val(lease.Spec.HolderIdentity); h != l.leader {
		l.leader = h
		if h != "" && h != l.o.Identity {
			l.o.Log.Info("another replica leads", "leader", h, "lease", l.o.Namespace+"/"+l.o.Name)
		}
	}
}

// expired reports whether the lease record has stayed the same for its
// duration, by this replica's clock.
func (l *LeaderElector) expired(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := time.Duration(val(l.observed.LeaseDurationSeconds)) * time.Second
	return !now.Before(l.seenAt.Add(d))
}

// release gives the lease up so that another replica takes it at once,
// as client-go's ReleaseOnCancel does: no holder, a duration of 1 s.
func (l *LeaderElector) release() {
	l.mu.Lock()
	lease := l.lease
	l.mu.Unlock()
	if lease == nil || val(lease.Spec.HolderIdentity) != l.o.Identity {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.o.RenewDeadline)
	defer cancel()
	now := metav1.NewMicroTime(time.Now())
	one, none := int32(1), ""
	lease = lease.DeepCopy()
	lease.Spec = coordinationv1.LeaseSpec{HolderIdentity: &none, LeaseDurationSeconds: &one, AcquireTime: &now, RenewTime: &now,
		LeaseTransitions: lease.Spec.LeaseTransitions}
	if _, err := l.leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		if !apierrors.IsConflict(err) && !errors.Is(err, context.DeadlineExceeded) {
			l.o.Log.Warn("release the lease (another replica takes over when it expires)", "lease", l.o.Namespace+"/"+l.o.Name, "err", err)
		}
		return
	}
	l.mu.Lock()
	l.leader = ""
	l.mu.Unlock()
}

func equalRecord(a, b coordinationv1.LeaseSpec) bool {
	return val(a.HolderIdentity) == val(b.HolderIdentity) &&
		val(a.LeaseDurationSeconds) == val(b.LeaseDurationSeconds) &&
		val(a.LeaseTransitions) == val(b.LeaseTransitions) &&
		a.AcquireTime.Equal(b.AcquireTime) && a.RenewTime.Equal(b.RenewTime)
}

func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// jitter returns d plus up to 20 % more, so that replicas do not poll in
// step.
func jitter(d time.Duration) time.Duration {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return d + d*time.Duration(int(b[0])<<8|int(b[1]))/time.Duration(5*65536)
}

// sleep waits d or until ctx is done, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
