package backup

import (
	"context"
	"io"
	"sync"
)

const (
	readaheadChunk = 256 << 10
	readaheadDepth = 8 // 2 MiB in flight at most
)

// readahead reads from src in its own goroutine into a few fixed buffers,
// so the network transfer overlaps verification, hashing and compression
// instead of waiting for them. Memory stays bounded at depth+1 chunks.
type readahead struct {
	src    io.ReadCloser
	full   chan []byte // chunks with data, in order
	free   chan []byte // empty chunks to reuse
	cur    []byte      // unread part of the chunk being consumed
	last   []byte      // chunk that cur points into, returned to free when used
	err    error       // set by the reader goroutine before it closes full
	done   chan struct{}
	closer sync.Once
}

func newReadahead(ctx context.Context, src io.ReadCloser) *readahead {
	r := &readahead{
		src:  src,
		full: make(chan []byte, readaheadDepth),
		free: make(chan []byte, readaheadDepth+1),
		done: make(chan struct{}),
	}
	for i := 0; i < readaheadDepth+1; i++ {
		r.free <- make([]byte, readaheadChunk)
	}
	go r.fill(ctx)
	return r
}

func (r *readahead) fill(ctx context.Context) {
	defer close(r.full)
	for {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-r.done:
			return
		case <-ctx.Done():
			r.err = ctx.Err()
			return
		}
		n, err := io.ReadAtLeast(r.src, buf[:cap(buf)], 1)
		if n > 0 {
			select {
			case r.full <- buf[:n]:
			case <-r.done:
				return
			}
		}
		if err != nil {
			r.err = err // io.EOF for a clean end
			return
		}
	}
}

func (r *readahead) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.last != nil {
			r.free <- r.last[:cap(r.last)]
			r.last = nil
		}
		buf, ok := <-r.full
		if !ok {
			return 0, r.err
		}
		r.cur, r.last = buf, buf
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Close stops the reader goroutine and closes src, which unblocks a read
// in progress.
func (r *readahead) Close() error {
	var err error
	r.closer.Do(func() {
		close(r.done)
		err = r.src.Close()
	})
	return err
}
