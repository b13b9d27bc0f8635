package backup_test

import (
	"crypto/sha256"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/rdb"
)

// BenchmarkStages measures each stage of the backup and restore pipelines
// alone over the same RDB (RDBAK_BENCH_RDB, or the small all-types one), so
// that hack/bench.sh can print CPU seconds per GB for each: reading the
// page-cached file (every stage includes it), the RDB verifier (structure
// and CRC-64), SHA-256, zstd at level fastest with the default concurrency,
// and zstd decoding of that output. The "cpu-s/GB" metric is this process's
// user+system CPU per 10^9 bytes of RDB; subtract "read"'s to get a
// stage's own.
func BenchmarkStages(b *testing.B) {
	path := os.Getenv("RDBAK_BENCH_RDB")
	if path == "" {
		path = smallRDB(b)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatalf("RDBAK_BENCH_RDB: %v", err)
	}
	comp, err := codec.Settings{}.Normalize()
	if err != nil {
		b.Fatal(err)
	}
	// The compressed form, for the decoder; kept on disk, not in memory.
	zpath := b.TempDir() + "/rdb.zst"
	zf, err := os.Create(zpath)
	if err != nil {
		b.Fatal(err)
	}
	if err := compressTo(zf, path, comp); err != nil {
		b.Fatal(err)
	}
	if err := zf.Close(); err != nil {
		b.Fatal(err)
	}
	stages := []struct {
		name string
		run  func() error
	}{
		{"read", func() error { return readInto(path, io.Discard) }},
		{"verify", func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = rdb.Copy(io.Discard, f)
			return err
		}},
		{"sha256", func() error { return readInto(path, sha256.New()) }},
		{"zstd", func() error { return compressTo(io.Discard, path, comp) }},
		{"unzstd", func() error {
			f, err := os.Open(zpath)
			if err != nil {
				return err
			}
			defer f.Close()
			d, err := codec.NewReader(f, "zstd")
			if err != nil {
				return err
			}
			defer d.Close()
			_, err = io.CopyBuffer(writerOnly{io.Discard}, d, make([]byte, 256<<10))
			return err
		}},
	}
	for _, s := range stages {
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(st.Size())
			var cpu time.Duration
			for b.Loop() {
				c0 := selfCPU(b)
				if err := s.run(); err != nil {
					b.Fatal(err)
				}
				cpu += selfCPU(b) - c0
			}
			b.ReportMetric(cpu.Seconds()/float64(b.N)/float64(st.Size())*1e9, "cpu-s/GB")
		})
	}
}

// readInto copies the file at path to w in 256 KiB writes, the size the
// pipeline's readahead hands on.
func readInto(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(writerOnly{w}, readerOnly{f}, make([]byte, 256<<10))
	return err
}

func compressTo(w io.Writer, path string, s codec.Settings) error {
	zw, err := codec.NewWriter(w, s)
	if err != nil {
		return err
	}
	if err := readInto(path, zw); err != nil {
		return err
	}
	return zw.Close()
}

// writerOnly and readerOnly hide ReadFrom and WriteTo, so that the copy
// uses the given buffer size.
type writerOnly struct{ io.Writer }
type readerOnly struct{ io.Reader }

func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
