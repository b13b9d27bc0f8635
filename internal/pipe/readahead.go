// Package pipe has the stream plumbing the backup and restore pipelines
// share.
package pipe

import (
	"context"
	"io"
	"sync"
)

// chunk is what one read of src fills at most. It need not be larger than
// the 128 KiB blocks zstd decodes and encodes in: 256 KiB chunks cost 1.1
// MiB more of every backup's and restore's memory and bought no throughput.
const (
	chunk = 128 << 10
	depth = 8 // 1 MiB in flight at most
)

// Readahead reads from src in its own goroutine into a few fixed buffers,
// so that what produces the stream (the network, a decompressor) runs on
// one core while what consumes it (verification, hashing, compression) runs
// on another, instead of taking turns. Memory stays bounded at depth+1
// chunks. Read is for one goroutine; src belongs to Readahead's until Wait
// returns.
type Readahead struct {
	src    io.Reader
	closer io.Closer
	full   chan []byte // chunks with data, in order
	free   chan []byte // empty chunks to reuse
	cur    []byte      // unread part of the chunk being consumed
	last   []byte      // chunk that cur points into, returned to free when used
	err    error       // set by the reader goroutine before it closes full
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
	cerr   error
}

// New starts reading src. closer, when set, is closed by Close to unblock a
// read of src in progress (the connection or object src reads from).
func New(ctx context.Context, src io.Reader, closer io.Closer) *Readahead {
	r := &Readahead{
		src:    src,
		closer: closer,
		full:   make(chan []byte, depth),
		free:   make(chan []byte, depth+1),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	for i := 0; i < depth+1; i++ {
		r.free <- make([]byte, chunk)
	}
	go r.fill(ctx)
	return r
}

func (r *Readahead) fill(ctx context.Context) {
	defer close(r.exited)
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

// Read returns src's bytes in order, then src's error (io.EOF at its end).
func (r *Readahead) Read(p []byte) (int, error) {
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

// Close stops the reader goroutine and closes closer (if any), which
// unblocks a read of src in progress. It returns closer's error and does
// not wait for the goroutine: see Wait.
func (r *Readahead) Close() error {
	r.once.Do(func() {
		close(r.done)
		if r.closer != nil {
			r.cerr = r.closer.Close()
		}
	})
	return r.cerr
}

// Wait returns once the reader goroutine no longer reads src: after Read
// returned an error, or after Close once the read in progress returned.
// Call it before anything else uses src (or closes what src needs).
func (r *Readahead) Wait() { <-r.exited }
