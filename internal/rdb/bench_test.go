package rdb

import (
	"context"
	"fmt"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/internal/testenv"
)

// BenchmarkCopy measures Copy from a page-cached file to io.Discard over
// RDBs written by a real redis-server in the setup (nothing big is
// committed): incompressible 1 MiB values, millions of small keys, and the
// all-types dataset.
func BenchmarkCopy(b *testing.B) {
	datasets := []struct {
		name   string
		config []string
		fill   func(testing.TB, *testenv.Redis)
	}{
		{"large-values", []string{"rdbcompression no"}, fillLarge},
		{"small-keys", nil, func(tb testing.TB, r *testenv.Redis) {
			// One long command: allow more than go-redis's 3 s default.
			c := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, ReadTimeout: 5 * time.Minute})
			defer c.Close()
			if err := c.Do(context.Background(), "DEBUG", "POPULATE", 2_000_000, "key", 64).Err(); err != nil {
				tb.Fatalf("DEBUG POPULATE: %v", err)
			}
		}},
		{"all-types", nil, func(tb testing.TB, r *testenv.Redis) { testenv.FillAllTypes(tb, r, 200) }},
	}
	for _, ds := range datasets {
		b.Run(ds.name, func(b *testing.B) {
			r := testenv.StartRedis(b, testenv.RedisOptions{Config: ds.config})
			ds.fill(b, r)
			path := bgsave(b, r)
			r.Stop()
			st, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(st.Size())
			var keys uint64
			cpu0 := cpuTime(b)
			for b.Loop() {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				info, err := Copy(io.Discard, f)
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
				keys = info.KeysTotal()
			}
			// On a shared machine wall time mostly measures the neighbours;
			// bytes per CPU second is the verifier's own cost.
			cpu := (cpuTime(b) - cpu0).Seconds()
			b.ReportMetric(float64(st.Size())*float64(b.N)/cpu/1e6, "MB/cpu-s")
			b.ReportMetric(float64(keys)*float64(b.N)/cpu, "keys/cpu-s")
		})
	}
}

// fillLarge writes 384 incompressible 1 MiB strings.
func fillLarge(tb testing.TB, r *testenv.Redis) {
	rnd := rand.New(rand.NewPCG(7, 8))
	c := r.Client(tb)
	val := make([]byte, 1<<20)
	for i := range 384 {
		for j := range val {
			val[j] = byte(rnd.UintN(256))
		}
		if err := c.Set(context.Background(), fmt.Sprintf("big:%d", i), val, 0).Err(); err != nil {
			tb.Fatalf("SET: %v", err)
		}
	}
}

// BenchmarkCRC64 compares CRC64 (carry-less multiplication where the CPU
// has it), its slicing-by-16 tables alone and hash/crc64 running the same
// polynomial, at the verifier's buffer size and a small size.
func BenchmarkCRC64(b *testing.B) {
	tab := crc64.MakeTable(jonesPoly)
	impls := map[string]func(uint64, []byte) uint64{
		"CRC64":      CRC64,
		"slicing16":  crc64Slicing,
		"hash-crc64": func(c uint64, p []byte) uint64 { return ^crc64.Update(^c, tab, p) },
	}
	for _, size := range []int{bufSize, 1 << 10} {
		p := make([]byte, size)
		for name, f := range impls {
			b.Run(fmt.Sprintf("%s/%dKiB", name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(size))
				var c uint64
				for b.Loop() {
					c = f(c, p)
				}
			})
		}
	}
}

// cpuTime is the user plus system CPU time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
