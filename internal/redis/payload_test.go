package redis

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

const testMark = "0123456789abcdef0123456789abcdef01234567"

// chunkReader returns at most n bytes per Read, so the mark can straddle
// read boundaries anywhere.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

func randomBytes(n int, seed uint64) []byte {
	rnd := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rnd.UintN(256))
	}
	return b
}

// sources are the read patterns the readers must handle, so the mark and
// the size boundary can fall anywhere inside a read.
var sources = map[string]func([]byte) io.Reader{
	"whole":    func(b []byte) io.Reader { return bytes.NewReader(b) },
	"1-byte":   func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
	"7-byte":   func(b []byte) io.Reader { return &chunkReader{bytes.NewReader(b), 7} },
	"39-byte":  func(b []byte) io.Reader { return &chunkReader{bytes.NewReader(b), 39} },
	"41-byte":  func(b []byte) io.Reader { return &chunkReader{bytes.NewReader(b), 41} },
	"4093":     func(b []byte) io.Reader { return &chunkReader{bytes.NewReader(b), 4093} },
	"data+EOF": func(b []byte) io.Reader { return iotest.DataErrReader(&chunkReader{bytes.NewReader(b), 1000}) },
	"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
}

// readWith reads r with a destination buffer of dst bytes per call.
func readWith(r io.Reader, dst int) ([]byte, error) {
	var out []byte
	buf := make([]byte, dst)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func TestMarkReaderFindsMark(t *testing.T) {
	mark := []byte(testMark)
	payloads := map[string][]byte{
		"1 byte":                 {'x'},
		"39 bytes":               randomBytes(39, 1),
		"40 bytes":               randomBytes(40, 2),
		"41 bytes":               randomBytes(41, 3),
		"bigger than buffer":     randomBytes(3*bodyBufSize+17, 4),
		"partial mark inside":    append(append(randomBytes(100, 5), mark[:39]...), randomBytes(100, 6)...),
		"ends with partial mark": append(randomBytes(500, 7), mark[:39]...),
		"ends with mark tail":    append(randomBytes(500, 8), mark[1:]...),
		"repeated mark prefix":   []byte(strings.Repeat(testMark[:20], 9)),
		"many partial marks":     []byte(strings.Repeat(testMark[:39]+"x", 50)),
	}
	for name, payload := range payloads {
		stream := append(bytes.Clone(payload), mark...)
		for src, open := range sources {
			for _, dst := range []int{1, 13, 40, 64 << 10} {
				t.Run(fmt.Sprintf("%s/%s/dst%d", name, src, dst), func(t *testing.T) {
					got, err := readWith(newMarkReader(open(stream), mark), dst)
					if err != nil {
						t.Fatalf("read: %v", err)
					}
					if !bytes.Equal(got, payload) {
						t.Fatalf("got %d bytes, want the %d-byte payload (equal prefix: %v)", len(got), len(payload), bytes.HasPrefix(payload, got))
					}
				})
			}
		}
	}
}

// Old servers (no rdb-only) follow the mark with the command stream; the
// reader must stop at the mark when it ends a read, as Redis's replica does.
func TestMarkReaderStopsAtMark(t *testing.T) {
	mark := []byte(testMark)
	payload := randomBytes(1000, 9)
	stream := append(append(bytes.Clone(payload), mark...), "*1\r\n$4\r\nPING\r\n"...)
	got, err := readWith(newMarkReader(iotest.OneByteReader(bytes.NewReader(stream)), mark), 100)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("got %d bytes, want the %d-byte payload", len(got), len(payload))
	}
}

func TestMarkReaderTruncated(t *testing.T) {
	mark := []byte(testMark)
	payload := randomBytes(5000, 10)
	for _, k := range []int{0, 1, 20, 39} {
		stream := append(bytes.Clone(payload), mark[:k]...)
		for src, open := range sources {
			t.Run(fmt.Sprintf("mark%d/%s", k, src), func(t *testing.T) {
				got, err := readWith(newMarkReader(open(stream), mark), 777)
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("got error %v, want io.ErrUnexpectedEOF", err)
				}
				if !bytes.HasPrefix(stream, got) || len(got) > len(stream)-eofMarkLen {
					t.Fatalf("returned %d bytes that are not a held-back prefix of the %d received", len(got), len(stream))
				}
			})
		}
	}
}

func TestMarkReaderSourceError(t *testing.T) {
	boom := errors.New("boom")
	r := newMarkReader(io.MultiReader(bytes.NewReader(randomBytes(100, 11)), iotest.ErrReader(boom)), []byte(testMark))
	if _, err := io.ReadAll(r); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the source's error", err)
	}
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, boom) {
		t.Fatalf("second read: got %v, want the same error again", err)
	}
}

func TestSizedReader(t *testing.T) {
	payload := randomBytes(10000, 12)
	t.Run("exact with trailing data", func(t *testing.T) {
		stream := append(bytes.Clone(payload), "*1\r\n$4\r\nPING\r\n"...)
		for src, open := range sources {
			got, err := readWith(&sizedReader{r: open(stream), size: 10000, left: 10000}, 333)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("%s: got %d bytes, %v; want the payload", src, len(got), err)
			}
		}
	})
	t.Run("exact then EOF", func(t *testing.T) {
		for src, open := range sources {
			got, err := readWith(&sizedReader{r: open(payload), size: 10000, left: 10000}, 4096)
			if err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("%s: got %d bytes, %v; want the payload", src, len(got), err)
			}
		}
	})
	t.Run("truncated", func(t *testing.T) {
		for src, open := range sources {
			got, err := readWith(&sizedReader{r: open(payload[:9999]), size: 10000, left: 10000}, 4096)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s: got %v, want io.ErrUnexpectedEOF", src, err)
			}
			if !strings.Contains(err.Error(), "after 9999 of 10000 bytes") {
				t.Fatalf("%s: error %q does not say how far it got", src, err)
			}
			if !bytes.Equal(got, payload[:9999]) {
				t.Fatalf("%s: got %d bytes, want the 9999 received", src, len(got))
			}
		}
	})
}
