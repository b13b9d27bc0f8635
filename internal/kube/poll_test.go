package kube

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestPollNamesTheWait: a wait that runs out while its condition's request
// is under way says what it waited for, not only the request's error.
func TestPollNamesTheWait(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cond := func(ctx context.Context) (bool, error) {
		cancel()
		return false, errors.New("client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline")
	}
	err := Poll(ctx, time.Millisecond, "redis in redis-0 to restart and be Ready", cond)
	if err == nil || !strings.Contains(err.Error(), "wait for redis in redis-0 to restart and be Ready") || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the wait named", err)
	}

	// An error while there is time left is the condition's own.
	boom := errors.New("pods \"redis-0\" is forbidden")
	err = Poll(t.Context(), time.Millisecond, "x", func(context.Context) (bool, error) { return false, boom })
	if !errors.Is(err, boom) || strings.Contains(err.Error(), "wait for") {
		t.Fatalf("err = %v, want %v alone", err, boom)
	}
}
