package redis

import (
	"bytes"
	"fmt"
	"io"
)

// sizedReader yields the "$<len>" payload: exactly size bytes. Errors are
// sticky, and a source that ends early is io.ErrUnexpectedEOF.
type sizedReader struct {
	r          io.Reader
	size, left int64
	err        error
}

func (s *sizedReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.left {
		p = p[:s.left]
	}
	n, err := s.r.Read(p)
	s.left -= int64(n)
	switch {
	case err == io.EOF && s.left == 0:
		return n, nil
	case err == io.EOF:
		s.err = fmt.Errorf("connection closed after %d of %d bytes: %w", s.size-s.left, s.size, io.ErrUnexpectedEOF)
	case err != nil:
		s.err = fmt.Errorf("after %d of %d bytes: %w", s.size-s.left, s.size, err)
	}
	return n, s.err
}

// markReader yields the diskless "$EOF:<mark>" payload: everything up to
// the mark that the master sends after the RDB. The mark has no length
// prefix, so the last eofMarkLen bytes received are always held back until
// more data shows they are not the mark; the mark itself is never returned.
// Like Redis's replica (readSyncBulkPayload), it looks for the mark at the end
// of what has arrived after each read of the source, and a source that ends
// before the mark is io.ErrUnexpectedEOF.
type markReader struct {
	src  io.Reader
	mark []byte
	// buf[start:end] has been received but not returned; until done, its
	// last eofMarkLen bytes are held back.
	buf        []byte
	start, end int
	received   int64
	done       bool
	err        error
}

func newMarkReader(src io.Reader, mark []byte) *markReader {
	return &markReader{src: src, mark: bytes.Clone(mark), buf: make([]byte, bodyBufSize)}
}

func (m *markReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		hold := eofMarkLen
		if m.done {
			hold = 0
		}
		if avail := m.end - m.start - hold; avail > 0 {
			n := copy(p, m.buf[m.start:m.start+avail])
			m.start += n
			return n, nil
		}
		if m.done {
			return 0, io.EOF
		}
		if m.err != nil {
			return 0, m.err
		}
		m.fill()
	}
}

// fill reads once from src. It is only called with at most eofMarkLen bytes
// pending, so moving them to the front of buf is cheap.
func (m *markReader) fill() {
	m.end = copy(m.buf, m.buf[m.start:m.end])
	m.start = 0
	n, err := m.src.Read(m.buf[m.end:])
	m.end += n
	m.received += int64(n)
	if m.end >= eofMarkLen && bytes.Equal(m.buf[m.end-eofMarkLen:m.end], m.mark) {
		m.done = true
		m.end -= eofMarkLen
		return
	}
	switch {
	case err == io.EOF:
		m.err = fmt.Errorf("connection closed after %d bytes, before the end-of-RDB mark: %w", m.received, io.ErrUnexpectedEOF)
	case err != nil:
		m.err = fmt.Errorf("after %d bytes: %w", m.received, err)
	}
}
