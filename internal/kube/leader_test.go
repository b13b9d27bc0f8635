package kube

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rdbak/rdbak/internal/kubeapi/kubeapitest"
)

// leaseServer is a fake clientset whose leases behave as the API server's:
// every write bumps resourceVersion, and an update that carries a stale
// one fails with a conflict. client-go's fake tracker checks neither.
type leaseServer struct {
	*fake.Clientset
	mu      sync.Mutex
	rv      int
	failing atomic.Bool // every lease write fails
}

func newLeaseServer() *leaseServer {
	s := &leaseServer{Clientset: fake.NewClientset()}
	gvr := coordinationv1.SchemeGroupVersion.WithResource("leases")
	write := func(a k8stesting.Action) (bool, runtime.Object, error) {
		if s.failing.Load() {
			return true, nil, errors.New("etcdserver: request timed out")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		l := a.(interface{ GetObject() runtime.Object }).GetObject().(*coordinationv1.Lease).DeepCopy()
		if a.GetVerb() == "update" {
			cur, err := s.Tracker().Get(gvr, l.Namespace, l.Name)
			if err != nil {
				return true, nil, err
			}
			if cur.(*coordinationv1.Lease).ResourceVersion != l.ResourceVersion {
				return true, nil, apierrors.NewConflict(gvr.GroupResource(), l.Name, errors.New("the object has been modified"))
			}
		}
		s.rv++
		l.ResourceVersion = strconv.Itoa(s.rv)
		var err error
		if a.GetVerb() == "update" {
			err = s.Tracker().Update(gvr, l, l.Namespace)
		} else {
			err = s.Tracker().Create(gvr, l, l.Namespace)
		}
		return true, l, err
	}
	s.PrependReactor("create", "leases", write)
	s.PrependReactor("update", "leases", write)
	return s
}

func (s *leaseServer) holder(t *testing.T) string {
	t.Helper()
	l, err := s.CoordinationV1().Leases("rdbak").Get(context.Background(), "lead", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return val(l.Spec.HolderIdentity)
}

func (s *leaseServer) elector(t *testing.T, id string) *LeaderElector {
	t.Helper()
	l, err := NewLeaderElector(kubeapitest.Wrap(s), LeaderOptions{Namespace: "rdbak", Name: "lead", Identity: id,
		LeaseDuration: time.Second, RenewDeadline: 600 * time.Millisecond, RetryPeriod: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// waitUntil polls cond; the test's own deadline bounds it.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLeaderElectionNeverOverlaps runs three replicas that stop and start
// again at random moments, against a lease with the API server's
// optimistic concurrency: at most one term of lead runs at any time, and
// a replica that stops hands the lease over by releasing it.
func TestLeaderElectionNeverOverlaps(t *testing.T) {
	s := newLeaseServer()
	var leading, most, terms atomic.Int32
	lead := func(ctx context.Context) {
		n := leading.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		terms.Add(1)
		<-ctx.Done()
		time.Sleep(20 * time.Millisecond) // drains, still holding the lease
		leading.Add(-1)
	}
	var wg sync.WaitGroup
	for i, id := range []string{"a", "b", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 4 {
				ctx, cancel := context.WithTimeout(t.Context(), time.Duration(150+100*((i+round)%3))*time.Millisecond)
				if err := s.elector(t, id).Run(ctx, lead); err != nil {
					t.Error(err)
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d terms of lead ran at once", most.Load())
	}
	if terms.Load() < 3 {
		t.Errorf("only %d terms in 12 runs: replicas that stopped did not hand over", terms.Load())
	}
	if h := s.holder(t); h != "" {
		t.Errorf("lease held by %q after every replica stopped, want released", h)
	}
}

// TestLeaderWaitsOutAnotherHolder: a lease held by a replica that is gone
// is taken only after its record has stayed the same for leaseDuration by
// this replica's clock, and the take-over counts as a transition.
func TestLeaderWaitsOutAnotherHolder(t *testing.T) {
	s := newLeaseServer()
	gone := s.elector(t, "gone")
	if !gone.tryAcquireOrRenew(t.Context(), time.Second) {
		t.Fatal("the first replica could not create the lease")
	}
	l := s.elector(t, "next")
	if l.tryAcquireOrRenew(t.Context(), time.Second) || l.Leader() != "gone" {
		t.Fatalf("took a lease whose holder renewed it just now (leader %q)", l.Leader())
	}
	l.mu.Lock()
	l.seenAt = l.seenAt.Add(-800 * time.Millisecond)
	l.mu.Unlock()
	if l.tryAcquireOrRenew(t.Context(), time.Second) {
		t.Fatal("took the lease before leaseDuration passed")
	}
	l.mu.Lock()
	l.seenAt = l.seenAt.Add(-201 * time.Millisecond)
	l.mu.Unlock()
	if !l.tryAcquireOrRenew(t.Context(), time.Second) || s.holder(t) != "next" || l.Leader() != "next" {
		t.Fatalf("did not take an expired lease: holder %q", s.holder(t))
	}
	lease, _ := s.CoordinationV1().Leases("rdbak").Get(t.Context(), "lead", metav1.GetOptions{})
	if val(lease.Spec.LeaseTransitions) != 1 || val(lease.Spec.LeaseDurationSeconds) != 1 {
		t.Errorf("lease after take-over: transitions %d, duration %ds; want 1, 1", val(lease.Spec.LeaseTransitions), val(lease.Spec.LeaseDurationSeconds))
	}
	// The old holder, back, sees the new record and does not take it.
	if gone.tryAcquireOrRenew(t.Context(), time.Second) {
		t.Error("the old holder took the lease back while it is held")
	}
}

// TestLeaderStopsWhenRenewalFails: a leader that cannot renew within
// renewDeadline ends its term (lead's context is done while Run's is
// not), and leads again once the API server answers.
func TestLeaderStopsWhenRenewalFails(t *testing.T) {
	s := newLeaseServer()
	l := s.elector(t, "a")
	var terms atomic.Int32
	lost := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- l.Run(ctx, func(c context.Context) {
			if terms.Add(1) == 1 {
				s.failing.Store(true)
				<-c.Done()
				close(lost)
				s.failing.Store(false)
				return
			}
			<-c.Done()
		})
	}()
	<-lost
	if ctx.Err() != nil {
		t.Fatal("term ended because Run was stopped")
	}
	waitUntil(t, "the second term", func() bool { return terms.Load() == 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if h := s.holder(t); h != "" {
		t.Errorf("lease held by %q after Run returned, want released", h)
	}
}

func TestLeaderOptionsChecked(t *testing.T) {
	s := newLeaseServer()
	for _, o := range []LeaderOptions{
		{LeaseDuration: time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond},
		{LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 900 * time.Millisecond},
	} {
		o.Namespace, o.Name, o.Identity = "rdbak", "lead", "a"
		l, err := NewLeaderElector(kubeapitest.Wrap(s), o)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Run(t.Context(), func(context.Context) { t.Error("led with invalid options") }); err == nil {
			t.Errorf("Run with %v %v %v: no error", o.LeaseDuration, o.RenewDeadline, o.RetryPeriod)
		}
	}
}

// TestLeaderWarnsWhenRefused: a lease call the API server refuses (a
// missing Role rule) is a warning that names the verb, logged once while
// it repeats; losing a race to another replica is not.
func TestLeaderWarnsWhenRefused(t *testing.T) {
	s := newLeaseServer()
	gr := coordinationv1.SchemeGroupVersion.WithResource("leases").GroupResource()
	s.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(gr, "lead", errors.New(`User "system:serviceaccount:rdbak:rdbak" cannot get resource "leases"`))
	})
	var buf bytes.Buffer
	l := s.elector(t, "a")
	l.o.Log = slog.New(slog.NewTextHandler(&buf, nil))
	for range 3 {
		if l.tryAcquireOrRenew(t.Context(), time.Second) {
			t.Fatal("led although the lease cannot be read")
		}
	}
	if n := strings.Count(buf.String(), "level=WARN"); n != 1 || !strings.Contains(buf.String(), `cannot get resource \"leases\"`) {
		t.Errorf("want one warning naming the refused get, got %d:\n%s", n, buf.String())
	}
	buf.Reset()
	l.failed("update", apierrors.NewConflict(gr, "lead", errors.New("modified")))
	if buf.Len() != 0 {
		t.Errorf("a lost race was logged as a warning: %s", buf.String())
	}
}
