package codec

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// sample is n bytes that compress about as an RDB does: runs of text that
// repeat with small changes, and random bytes between them.
func sample(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 0, n)
	for len(b) < n {
		if rng.IntN(4) == 0 {
			for i := rng.IntN(2000); i > 0; i-- {
				b = append(b, byte(rng.Uint32()))
			}
			continue
		}
		b = fmt.Appendf(b, "user:%d\x00name=%s;score=%d;", rng.IntN(50000), []string{"ann", "bob", "cy"}[rng.IntN(3)], rng.IntN(100))
	}
	return b[:n]
}

func compress(t testing.TB, raw []byte, s Settings) []byte {
	t.Helper()
	s, err := s.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w, err := NewWriter(&out, s)
	if err != nil {
		t.Fatal(err)
	}
	// Odd write sizes, so that frames end inside writes.
	for p := raw; len(p) > 0; {
		k := min(len(p), 100_003)
		if _, err := w.Write(p[:k]); err != nil {
			t.Fatal(err)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func decompress(r io.Reader) ([]byte, error) {
	d, err := NewReader(r, "zstd")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return io.ReadAll(d)
}

// frames counts the frames frameReader would decode whole in z.
func frames(t *testing.T, z []byte) int {
	t.Helper()
	br := bufio.NewReader(bytes.NewReader(z))
	n := 0
	for {
		_, err := readFrame(br, nil)
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		n++
	}
}

// TestFramesRoundTrip: rdbak's zstd streams are one frame per zstdFrame
// bytes of input; they decode to the input with frameReader and with the
// plain streaming decoder older rdbak use, whatever the size.
func TestFramesRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, zstdFrame - 1, zstdFrame, zstdFrame + 1, 7*zstdFrame/2 + 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			raw := sample(n, uint64(n))
			z := compress(t, raw, Settings{})
			if got, want := frames(t, z), max(1, (n+zstdFrame-1)/zstdFrame); got != want {
				t.Errorf("%d frames, want %d", got, want)
			}
			got, err := decompress(bytes.NewReader(z))
			if err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("frameReader: %d bytes, %v; want %d bytes", len(got), err, n)
			}
			plain, err := zstd.NewReader(bytes.NewReader(z))
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			if got, err := io.ReadAll(plain); err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("streaming decoder: %d bytes, %v; want %d bytes", len(got), err, n)
			}
		})
	}
}

// TestFramesWorkers: frames are encoded in parallel but written in input
// order, so the stream is the same bytes whatever the number of workers.
func TestFramesWorkers(t *testing.T) {
	raw := sample(9*zstdFrame+77, 19)
	one := compress(t, raw, Settings{Concurrency: 1})
	for _, n := range []int{2, 3, 8} {
		if got := compress(t, raw, Settings{Concurrency: n}); !bytes.Equal(got, one) {
			t.Errorf("%d workers: %d bytes that differ from one worker's %d", n, len(got), len(one))
		}
	}
	if got, err := decompress(bytes.NewReader(one)); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("decoded %d bytes, %v; want %d", len(got), err, len(raw))
	}
}

// failWriter accepts n bytes, then fails every write.
type failWriter struct {
	n      int
	err    error
	failed bool
	writes int // writes after the failure
}

func (w *failWriter) Write(p []byte) (int, error) {
	if w.failed {
		w.writes++
	}
	k := min(len(p), w.n)
	w.n -= k
	if k < len(p) {
		w.failed = true
		return k, w.err
	}
	return k, nil
}

// TestFramesWriteError: once the destination fails, Write and Close return
// its error and nothing more is written to it.
func TestFramesWriteError(t *testing.T) {
	boom := errors.New("disk full")
	for _, at := range []int{0, 100, 3 * zstdFrame / 4} {
		dst := &failWriter{n: at, err: boom}
		w, err := NewWriter(dst, Settings{Codec: "zstd", Level: "fastest", Concurrency: 2})
		if err != nil {
			t.Fatal(err)
		}
		raw := sample(8*zstdFrame, 23)
		var werr error
		for p := raw; len(p) > 0 && werr == nil; p = p[min(len(p), 65536):] {
			_, werr = w.Write(p[:min(len(p), 65536)])
		}
		if !errors.Is(werr, boom) {
			t.Errorf("fails after %d bytes: Write returned %v, want %v", at, werr, boom)
		}
		if err := w.Close(); !errors.Is(err, boom) {
			t.Errorf("fails after %d bytes: Close returned %v, want %v", at, err, boom)
		}
		if dst.writes != 0 {
			t.Errorf("fails after %d bytes: %d writes after the failure", at, dst.writes)
		}
	}
}

// TestFramesOtherStreams: streams rdbak did not cut into frames (a backup
// from before frames, level best, zstd -1 of a big file) decode too, in
// part through the streaming decoder.
func TestFramesOtherStreams(t *testing.T) {
	random := make([]byte, maxFrame+maxBlock)
	rand.NewChaCha8([32]byte{7}).Read(random)
	text := sample(3*zstdFrame, 3)
	for _, c := range []struct {
		name string
		raw  []byte
		opts []zstd.EOption
		cut  bool // decoded whole, not handed over
	}{
		{"one small frame", text, nil, true},
		{"one frame beyond maxFrame", random, nil, false},
		{"one frame of many blocks", bytes.Repeat([]byte("abc"), (maxFrame+2*maxBlock)/3), nil, false},
		{"RLE blocks", make([]byte, 3*maxBlock+5), nil, true},
		{"no checksum", text, []zstd.EOption{zstd.WithEncoderCRC(false)}, true},
		{"content size", text, []zstd.EOption{zstd.WithSingleSegment(true)}, true},
		{"1 MiB frame (rdbak 2026-11-29)", sample(1<<20, 29), []zstd.EOption{zstd.WithWindowSize(zstdWindow)}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc, err := zstd.NewWriter(nil, c.opts...)
			if err != nil {
				t.Fatal(err)
			}
			z := enc.EncodeAll(c.raw, nil)
			in, err := readFrame(bufio.NewReader(bytes.NewReader(z)), nil)
			if c.cut && (err != nil || len(in) != len(z)) {
				t.Errorf("frame of %d bytes: cut %d bytes, %v; want it whole", len(z), len(in), err)
			}
			if !c.cut && !errors.Is(err, errHandOver) {
				t.Errorf("frame of %d bytes: %v, want it handed over", len(z), err)
			}
			// Then an rdbak stream after it: frames again after a hand-over
			// are decoded by the streaming decoder.
			z = append(z, compress(t, text, Settings{})...)
			got, err := decompress(bytes.NewReader(z))
			if want := append(append([]byte(nil), c.raw...), text...); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%d bytes, %v; want %d bytes", len(got), err, len(want))
			}
		})
	}
	best := sample(3*zstdFrame, 5)
	z := compress(t, best, Settings{Level: "best"})
	if _, err := readFrame(bufio.NewReader(bytes.NewReader(z)), nil); !errors.Is(err, errHandOver) {
		t.Errorf("level best: %v, want its one frame handed over (its window is larger than maxFrame)", err)
	}
	if got, err := decompress(bytes.NewReader(z)); err != nil || !bytes.Equal(got, best) {
		t.Fatalf("level best: %d bytes, %v", len(got), err)
	}
}

// TestFramesDamaged: a stream cut inside a frame fails to decode; one cut
// between frames decodes to a prefix of the input without an error, as
// with any zstd decoder: every reader of a backup checks the RDB's length
// and its CRC-64 or SHA-256 after it. An altered stream either fails or
// decodes to exactly the input (a byte that changes nothing, such as an
// unused header bit); it never yields other bytes without an error.
func TestFramesDamaged(t *testing.T) {
	raw := sample(2*zstdFrame+12345, 11)
	z := compress(t, raw, Settings{})
	br := bufio.NewReader(bytes.NewReader(z))
	bounds := map[int]bool{}
	for at := 0; ; {
		in, err := readFrame(br, nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		at += len(in)
		bounds[at] = true
	}
	if len(bounds) != 3 {
		t.Fatalf("%d frames, want 3", len(bounds))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cuts := []int{0}
	for at := range bounds {
		cuts = append(cuts, at-1, at, at+1)
	}
	for range 100 {
		cuts = append(cuts, rng.IntN(len(z)))
	}
	for _, cut := range cuts {
		if cut >= len(z) {
			continue
		}
		got, err := decompress(bytes.NewReader(z[:cut]))
		switch {
		case bounds[cut] && (err != nil || !bytes.Equal(got, raw[:len(got)]) || len(got) == 0):
			t.Fatalf("cut between frames at %d: %d bytes, %v; want a prefix of the input", cut, len(got), err)
		case !bounds[cut] && err == nil && cut > 0:
			t.Fatalf("cut at %d of %d: %d bytes and no error", cut, len(z), len(got))
		}
		bad := bytes.Clone(z)
		at := rng.IntN(len(bad))
		bad[at] ^= byte(1 + rng.IntN(255))
		if got, err := decompress(bytes.NewReader(bad)); err == nil && !bytes.Equal(got, raw) {
			t.Fatalf("byte %d of %d altered: %d other bytes and no error", at, len(z), len(got))
		}
	}
	for _, tail := range [][]byte{{0}, []byte("garbage after the end"), z[:20]} {
		if _, err := decompress(bytes.NewReader(append(bytes.Clone(z), tail...))); err == nil {
			t.Errorf("%d bytes after the last frame: no error", len(tail))
		}
	}
}

// errSource fails after giving n bytes of r.
type errSource struct {
	r   io.Reader
	n   int
	err error
}

func (e *errSource) Read(p []byte) (int, error) {
	if e.n == 0 {
		return 0, e.err
	}
	k, err := e.r.Read(p[:min(len(p), e.n)])
	e.n -= k
	return k, err
}

// TestFramesSourceError: the source's error comes out as it is, after the
// frames before it, wherever it happens.
func TestFramesSourceError(t *testing.T) {
	raw := sample(4*zstdFrame, 13)
	z := compress(t, raw, Settings{})
	boom := errors.New("connection reset")
	for _, at := range []int{0, 5, len(z) / 3, len(z) - 1} {
		got, err := decompress(&errSource{r: bytes.NewReader(z), n: at, err: boom})
		if !errors.Is(err, boom) {
			t.Errorf("source fails after %d bytes: %v, want %v", at, err, boom)
		}
		if !bytes.Equal(got, raw[:len(got)]) {
			t.Errorf("source fails after %d bytes: the %d bytes before differ", at, len(got))
		}
	}
}

// TestFramesCloseEarly: Close before the end stops every goroutine.
func TestFramesCloseEarly(t *testing.T) {
	z := compress(t, sample(8*zstdFrame, 17), Settings{})
	before := runtime.NumGoroutine()
	for _, read := range []int{0, 1, zstdFrame + 7} {
		d, err := NewReader(bytes.NewReader(z), "zstd")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, d, int64(read)); err != nil {
			t.Fatal(err)
		}
		d.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before", n, before)
	}
}

// FuzzFrameReader: on any input frameReader gives what the plain streaming
// decoder gives, or fails where it fails.
func FuzzFrameReader(f *testing.F) {
	s, _ := Settings{}.Normalize()
	for _, n := range []int{0, 100, zstdFrame + 100} {
		var b bytes.Buffer
		w, _ := NewWriter(&b, s)
		w.Write(sample(n, 1))
		w.Close()
		f.Add(b.Bytes())
	}
	f.Fuzz(func(t *testing.T, z []byte) {
		got, err := decompress(bytes.NewReader(z))
		plain, perr := zstd.NewReader(bytes.NewReader(z), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxWindow))
		if perr != nil {
			t.Fatal(perr)
		}
		defer plain.Close()
		want, werr := io.ReadAll(plain)
		if werr == nil && (err != nil || !bytes.Equal(got, want)) {
			t.Fatalf("frameReader: %d bytes, %v; the streaming decoder: %d bytes", len(got), err, len(want))
		}
		if err == nil && werr != nil {
			t.Fatalf("frameReader: %d bytes; the streaming decoder failed: %v", len(got), werr)
		}
	})
}
