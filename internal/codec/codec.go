// Package codec adapts klauspost/compress to rdbak's compression settings:
// a codec name (zstd, gzip, none) and a level name, as they appear in the
// config file, flags and manifests.
package codec

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/rdbak/rdbak/internal/pipe"
)

// Settings select a codec. The zero value means zstd at level fastest.
type Settings struct {
	Codec string // zstd (default), gzip or none
	Level string // zstd: fastest (default), default, better, best; gzip: fastest, default (default), best or 1-9
	// Concurrency is how many zstd frames are encoded at once, each in a
	// goroutine; 0 means min(2, GOMAXPROCS).
	Concurrency int
}

// Normalize fills in defaults and checks the names, returning an error
// that names the bad value and the accepted ones.
func (s Settings) Normalize() (Settings, error) {
	if s.Codec == "" {
		s.Codec = "zstd"
	}
	switch s.Codec {
	case "zstd":
		if s.Level == "" {
			s.Level = "fastest"
		}
		if _, err := zstdLevel(s.Level); err != nil {
			return s, err
		}
	case "gzip":
		if s.Level == "" {
			s.Level = "default"
		}
		if _, err := gzipLevel(s.Level); err != nil {
			return s, err
		}
	case "none":
		s.Level = ""
	default:
		return s, fmt.Errorf("compression codec %q is not one of zstd, gzip, none", s.Codec)
	}
	if s.Concurrency < 0 {
		return s, fmt.Errorf("compression concurrency %d must be 0 (automatic) or more", s.Concurrency)
	}
	if s.Concurrency == 0 {
		s.Concurrency = min(2, runtime.GOMAXPROCS(0))
	}
	return s, nil
}

// Ext returns the file extension of the codec's output ("" for none).
func Ext(codec string) string {
	switch codec {
	case "zstd":
		return "zst"
	case "gzip":
		return "gz"
	}
	return ""
}

func zstdLevel(l string) (zstd.EncoderLevel, error) {
	switch l {
	case "fastest":
		return zstd.SpeedFastest, nil
	case "default":
		return zstd.SpeedDefault, nil
	case "better":
		return zstd.SpeedBetterCompression, nil
	case "best":
		return zstd.SpeedBestCompression, nil
	}
	return 0, fmt.Errorf("zstd level %q is not one of fastest, default, better, best", l)
}

func gzipLevel(l string) (int, error) {
	switch l {
	case "fastest":
		return gzip.BestSpeed, nil
	case "default":
		return gzip.DefaultCompression, nil
	case "best":
		return gzip.BestCompression, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > 9 {
		return 0, fmt.Errorf("gzip level %q is not one of fastest, default, best or 1-9", l)
	}
	return n, nil
}

// zstdWindow is the encoder's window. klauspost's default, 8 MiB, keeps a
// 16 MiB history per encoder (two with the default concurrency): most of a
// backup's own memory. An RDB's values are LZF-compressed by Redis already
// and its matches are near, so 512 KiB compresses hack/benchdata's RDB to
// the same ratio as 8 MiB (1.690 on 200 MB at level fastest; 1.8538 on a
// 1 GiB RDB against 1.8539 with 1 MiB) at the same CPU per GB. The
// history is the window and a block (WithLowerEncoderMem): 640 KiB here,
// 16 MiB with the default. The window is recorded in each frame:
// every rdbak decodes all of them. The levels better and best keep the
// default window: whoever picks them trades memory and CPU for ratio.
const zstdWindow = 512 << 10

// NewWriter returns a compressor writing to w. Closing it flushes the
// codec's trailer but does not close w. s must be normalized.
func NewWriter(w io.Writer, s Settings) (io.WriteCloser, error) {
	switch s.Codec {
	case "zstd":
		l, err := zstdLevel(s.Level)
		if err != nil {
			return nil, err
		}
		if l > zstd.SpeedDefault {
			return zstd.NewWriter(w, zstd.WithEncoderLevel(l), zstd.WithEncoderConcurrency(max(1, s.Concurrency)))
		}
		return newFramedWriter(w, l, s.Concurrency)
	case "gzip":
		l, err := gzipLevel(s.Level)
		if err != nil {
			return nil, err
		}
		return gzip.NewWriterLevel(w, l)
	case "none":
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("compression codec %q is not one of zstd, gzip, none", s.Codec)
}

// NewReader returns a decompressor of codec reading from r. It decodes
// ahead of Read in goroutines of its own, so that decoding and what reads
// it share the cores, and reports corrupt input as a read error. Once Read
// has returned io.EOF, r is no longer read. Close stops the goroutines
// and waits until r is no longer read (a read of r in progress must
// return first); it does not close r.
func NewReader(r io.Reader, codecName string) (io.ReadCloser, error) {
	switch codecName {
	case "zstd":
		d, err := newFrameReader(r)
		if err != nil {
			return nil, fmt.Errorf("start zstd decoder: %w", err)
		}
		return d, nil
	case "gzip":
		g, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("read gzip header: %w", err)
		}
		g.Multistream(false)
		return ahead(g), nil
	case "none":
		return ahead(io.NopCloser(r)), nil
	}
	return nil, fmt.Errorf("compression codec %q is not one of zstd, gzip, none: the manifest may come from a newer rdbak", codecName)
}

// readAhead is a decoder read in a goroutine of its own.
type readAhead struct {
	*pipe.Readahead
	dec io.Closer
}

func ahead(dec io.ReadCloser) readAhead {
	return readAhead{pipe.New(context.Background(), dec, nil), dec}
}

func (r readAhead) Close() error {
	r.Readahead.Close()
	r.Wait()
	return r.dec.Close()
}

// maxWindow bounds the streaming decoder's window, so that a hostile
// object cannot make rdbak allocate without limit.
const maxWindow = 128 << 20

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// zstdReadCloser is the streaming decoder, for what frameReader hands over.
type zstdReadCloser struct{ *zstd.Decoder }

func (z zstdReadCloser) Close() error { z.Decoder.Close(); return nil }
