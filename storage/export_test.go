package storage

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"gocloud.dev/blob"
)

// Listing counts what a Repo lists and which manifests it reads, for the
// tests that check listings are paged and scoped.
type Listing struct {
	mu       sync.Mutex
	pages    int
	prefixes map[string]int
	reads    int
}

// CountListing makes r list pageSize keys a page and count its pages and
// manifest reads.
func CountListing(r *Repo, pageSize int) *Listing {
	l := &Listing{prefixes: map[string]int{}}
	r.pageSize = pageSize
	r.pager = func(ctx context.Context, token []byte, size int, o *blob.ListOptions) ([]*blob.ListObject, []byte, error) {
		l.mu.Lock()
		l.pages++
		l.prefixes[o.Prefix]++
		l.mu.Unlock()
		return r.bucket.ListPage(ctx, token, size, o)
	}
	r.readAll = func(ctx context.Context, key string) ([]byte, error) {
		l.mu.Lock()
		l.reads++
		l.mu.Unlock()
		return r.bucket.ReadAll(ctx, key)
	}
	return l
}

// Take returns the pages listed and manifests read since the last Take,
// with the prefixes listed, and resets the counts.
func (l *Listing) Take() (pages, reads int, prefixes map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pages, reads, prefixes = l.pages, l.reads, l.prefixes
	l.pages, l.reads, l.prefixes = 0, 0, map[string]int{}
	return pages, reads, prefixes
}

// Walk exposes walk: fn sees each key of prefix.
func (r *Repo) Walk(ctx context.Context, prefix string, fn func(key string) error) error {
	return r.walk(ctx, &blob.ListOptions{Prefix: prefix}, func(o *blob.ListObject) error { return fn(o.Key) })
}

// FailListing makes the first n listing pages of r fail with err, without
// listing and with no pause between, and returns a count of the pages
// asked for, failed or not.
func FailListing(r *Repo, n int, err error) *atomic.Int32 {
	var calls atomic.Int32
	r.vanishPause = time.Nanosecond
	r.pager = func(ctx context.Context, token []byte, size int, o *blob.ListOptions) ([]*blob.ListObject, []byte, error) {
		if int(calls.Add(1)) <= n {
			return nil, nil, err
		}
		return r.bucket.ListPage(ctx, token, size, o)
	}
	return &calls
}
