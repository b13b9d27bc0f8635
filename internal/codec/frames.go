package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdFrame is how many bytes of input one zstd frame holds when the
// window is zstdWindow. Frames do not share a history, so the writer
// encodes, and the reader decodes, several at once on as many cores: one
// core's zstd encoder was the slowest stage of a backup, its decoder that
// of a restore. A frame starts without a history, which costs ratio until
// it has filled the window; each frame in flight costs memory. On a 1 GiB
// hack/benchdata RDB at level fastest: one frame 1.855, 1 MiB frames
// 1.837, 512 KiB 1.819; 1 MiB frames cost a backup 2.2 MiB more anonymous
// memory than 512 KiB, which the 48 MiB target had no room for. A stream
// of frames is one zstd stream to every decoder (zstd -d, rdbak before
// frames).
const zstdFrame = 512 << 10

// framedWriter compresses its input in frames of zstdFrame bytes. Each
// frame is encoded whole (EncodeAll) in a goroutine of its own while the
// next is filled, up to workers at once, and Write and Close write the
// encoded frames to w in order. Against one streaming encoder this spreads
// the work over the cores and costs less CPU: on 400 MB of a benchdata RDB
// at level fastest, 6.5 CPU s/GB against 9.0, at the same ratio. It holds
// workers+1 frames, input and output, and workers encoders.
type framedWriter struct {
	enc     *zstd.Encoder // EncodeAll, workers at once
	w       io.Writer
	workers int
	cur     *frameJob   // the frame being filled
	queue   []*frameJob // frames being encoded, in stream order
	free    []*frameJob // written frames, to reuse
	wrote   bool        // a frame reached w
	err     error       // sticky: w failed
}

// frameJob is one frame: in is encoded into out, then done is closed.
type frameJob struct {
	in, out []byte
	done    chan struct{}
}

func newFramedWriter(w io.Writer, l zstd.EncoderLevel, workers int) (*framedWriter, error) {
	workers = max(1, workers)
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(workers),
		zstd.WithWindowSize(zstdWindow), zstd.WithZeroFrames(true), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	return &framedWriter{enc: enc, w: w, workers: workers}, nil
}

func (f *framedWriter) Write(p []byte) (int, error) {
	done := 0
	for len(p) > 0 && f.err == nil {
		if f.cur == nil {
			f.cur = f.job()
		}
		k := min(len(p), zstdFrame-len(f.cur.in))
		f.cur.in = append(f.cur.in, p[:k]...)
		done += k
		p = p[k:]
		if len(f.cur.in) == zstdFrame {
			f.submit()
		}
	}
	return done, f.err
}

// job returns an empty frame: a written one, or a new one.
func (f *framedWriter) job() *frameJob {
	if n := len(f.free); n > 0 {
		j := f.free[n-1]
		f.free = f.free[:n-1]
		return j
	}
	return &frameJob{in: make([]byte, 0, zstdFrame), out: make([]byte, 0, f.enc.MaxEncodedSize(zstdFrame))}
}

// submit starts encoding the frame being filled and, once more than
// workers frames are queued, writes the oldest.
func (f *framedWriter) submit() {
	j := f.cur
	f.cur = nil
	j.done = make(chan struct{})
	go func() {
		j.out = f.enc.EncodeAll(j.in, j.out[:0])
		close(j.done)
	}()
	f.queue = append(f.queue, j)
	if len(f.queue) > f.workers {
		f.writeOldest()
	}
}

// writeOldest waits for the oldest queued frame and, unless w has failed,
// writes it.
func (f *framedWriter) writeOldest() {
	j := f.queue[0]
	f.queue = append(f.queue[:0], f.queue[1:]...)
	<-j.done
	if f.err == nil {
		_, f.err = f.w.Write(j.out)
		f.wrote = true
	}
	j.in = j.in[:0]
	f.free = append(f.free, j)
}

// Close encodes and writes what is left; a stream with no input is one
// empty frame. It does not close w.
func (f *framedWriter) Close() error {
	if f.cur != nil && len(f.cur.in) > 0 && f.err == nil {
		f.submit()
	}
	for len(f.queue) > 0 {
		f.writeOldest()
	}
	if !f.wrote && f.err == nil {
		_, f.err = f.w.Write(f.enc.EncodeAll(nil, nil))
		f.wrote = true
	}
	return f.err
}

// Bounds of a frame that frameReader decodes whole: its bytes and what
// its blocks can decode to. rdbak's own frames are an eighth of this (a
// quarter for the 1 MiB frames of rdbak 2026-11-29); a larger frame (a
// backup written before frames, another tool's stream) goes to the
// streaming decoder. frameBuffer holds a frame of either size; only what
// a frame fills of it is touched.
const (
	maxFrame     = 4 << 20
	maxBlock     = 128 << 10     // zstd's largest block
	frameWorkers = 2             // frames decoded at once
	frameBuffer  = 1<<20 + 4<<10 // one of rdbak's frames, compressed or not
)

// frameReader decodes a zstd stream of independent frames, several at a
// time. A goroutine of its own reads the stream and cuts it into frames;
// each is decoded whole in a goroutine while the next are read; Read
// returns them in order. What it cannot cut (a frame larger than maxFrame,
// a skippable frame, a damaged header, a cut stream) it hands with the
// rest of the stream to one streaming decoder, which decodes it or says
// what is wrong with it, as it would have without frameReader. At most
// frameWorkers+1 frames are read ahead, so memory is bounded by about
// twice that many maxFrame buffers (input and output).
type frameReader struct {
	dec    *zstd.Decoder // DecodeAll, frameWorkers at once
	order  chan *frame   // frames in stream order
	free   chan []byte   // buffers to reuse
	cur    []byte        // unread part of the frame being read
	last   *frame        // frame cur points into
	rest   io.ReadCloser // the streaming decoder, after a hand-over
	err    error         // sticky
	done   chan struct{}
	exited chan struct{}
	once   sync.Once
}

// frame is one frame being decoded, or the rest of the stream (rest) for
// the streaming decoder, or the source's error.
type frame struct {
	in, out []byte
	err     error
	ready   chan struct{} // closed when out and err are set
	rest    io.Reader
}

func newFrameReader(r io.Reader) (*frameReader, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(frameWorkers), zstd.WithDecoderMaxMemory(maxFrame))
	if err != nil {
		return nil, err
	}
	f := &frameReader{
		dec:    dec,
		order:  make(chan *frame, 1),
		free:   make(chan []byte, 2*(frameWorkers+2)),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go f.split(bufio.NewReaderSize(r, maxBlock))
	return f, nil
}

// split reads frames and starts decoding them, until the stream ends, a
// frame is handed over, the source fails or Close is called.
func (f *frameReader) split(br *bufio.Reader) {
	var workers sync.WaitGroup
	jobs := make(chan *frame)
	for range frameWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for fr := range jobs {
				fr.out, fr.err = f.dec.DecodeAll(fr.in, f.buffer())
				f.recycle(fr.in)
				close(fr.ready)
			}
		}()
	}
	defer close(f.exited)
	defer workers.Wait()
	defer close(jobs)
	defer close(f.order)
	send := func(fr *frame) bool {
		select {
		case f.order <- fr:
			return true
		case <-f.done:
			return false
		}
	}
	for first := true; ; first = false {
		in, err := readFrame(br, f.buffer())
		switch {
		case err == io.EOF && len(in) == 0 && !first:
			return // the stream ends after a whole frame
		case errors.Is(err, errHandOver) || err == io.EOF || err == io.ErrUnexpectedEOF:
			send(&frame{rest: io.MultiReader(bytes.NewReader(in), br)})
			return
		case err != nil:
			send(&frame{err: err, ready: closed})
			return
		}
		fr := &frame{in: in, ready: make(chan struct{})}
		select {
		case jobs <- fr:
		case <-f.done:
			return
		}
		if !send(fr) {
			return
		}
	}
}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (f *frameReader) buffer() []byte {
	select {
	case b := <-f.free:
		return b[:0]
	default:
		return make([]byte, 0, frameBuffer)
	}
}

func (f *frameReader) recycle(b []byte) {
	if cap(b) > frameBuffer {
		return
	}
	select {
	case f.free <- b:
	default:
	}
}

// errHandOver means the stream goes on in a way readFrame does not cut.
var errHandOver = errors.New("hand over to the streaming decoder")

// readFrame appends the next frame's bytes from br to buf. It returns
// io.EOF with nothing read at the stream's end, and errHandOver with
// what it read (for the streaming decoder) when the frame is not one
// frameReader decodes whole. Errors of br's source are returned as they
// are; a cut stream is io.EOF or io.ErrUnexpectedEOF with what was read.
func readFrame(br *bufio.Reader, buf []byte) ([]byte, error) {
	hdr, err := br.Peek(zstd.HeaderMaxSize)
	if len(hdr) == 0 {
		return buf, err
	}
	if err != nil && err != io.EOF {
		return buf, err
	}
	var h zstd.Header
	if h.Decode(hdr) != nil || h.Skippable || h.DictionaryID != 0 || h.WindowSize > maxFrame {
		return buf, errHandOver
	}
	buf, err = take(br, buf, h.HeaderSize)
	if err != nil {
		return buf, err
	}
	decoded := 0
	for {
		buf, err = take(br, buf, 3)
		if err != nil {
			return buf, err
		}
		bh := buf[len(buf)-3:]
		v := uint32(bh[0]) | uint32(bh[1])<<8 | uint32(bh[2])<<16
		last, typ, size := v&1 == 1, (v>>1)&3, int(v>>3)
		var body int
		switch typ {
		case 0: // raw
			body, decoded = size, decoded+size
		case 1: // RLE
			body, decoded = 1, decoded+size
		case 2: // compressed
			body, decoded = size, decoded+maxBlock
		default:
			return buf, errHandOver
		}
		if len(buf)+body > maxFrame || decoded > maxFrame {
			return buf, errHandOver
		}
		if buf, err = take(br, buf, body); err != nil {
			return buf, err
		}
		if last {
			break
		}
	}
	if h.HasCheckSum {
		return take(br, buf, 4)
	}
	return buf, nil
}

// take appends the next n bytes of br to buf.
func take(br *bufio.Reader, buf []byte, n int) ([]byte, error) {
	start := len(buf)
	buf = append(buf, make([]byte, n)...)
	k, err := io.ReadFull(br, buf[start:])
	buf = buf[:start+k]
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return buf, err
}

// Read returns the decoded frames in order.
func (f *frameReader) Read(p []byte) (int, error) {
	for len(f.cur) == 0 {
		if f.rest != nil {
			return f.rest.Read(p)
		}
		if f.err != nil {
			return 0, f.err
		}
		if f.last != nil {
			f.recycle(f.last.out)
			f.last = nil
		}
		fr, ok := <-f.order
		if !ok {
			f.err = io.EOF
			return 0, io.EOF
		}
		if fr.rest != nil {
			rest, err := zstd.NewReader(fr.rest, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
			if err != nil {
				f.err = fmt.Errorf("start zstd decoder: %w", err)
				return 0, f.err
			}
			f.rest = zstdReadCloser{rest}
			continue
		}
		<-fr.ready
		if fr.err != nil {
			f.err = fr.err
			return 0, f.err
		}
		f.cur, f.last = fr.out, fr
	}
	n := copy(p, f.cur)
	f.cur = f.cur[n:]
	return n, nil
}

// Close stops reading the stream and waits until the source is no longer
// read.
func (f *frameReader) Close() error {
	f.once.Do(func() { close(f.done) })
	<-f.exited
	if f.rest != nil {
		f.rest.Close()
	}
	f.dec.Close()
	return nil
}
