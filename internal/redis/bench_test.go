package redis

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
)

// BenchmarkPull compares PullSource with `redis-cli --rdb - >/dev/null` on the
// same server holding about 300 MB of incompressible values, in both payload
// forms. Each iteration is a whole snapshot: the master's fork and BGSAVE
// are included, as they are for redis-cli. Run it with
//
//	go test -run '^$' -bench Pull -benchtime 3x ./internal/redis
func BenchmarkPull(b *testing.B) {
	cli := testenv.LookPath(b, "redis-cli")
	r := testenv.StartRedis(b, testenv.RedisOptions{})
	fillRandom(b, r, 600_000, 500)
	host, port, _ := strings.Cut(r.Addr, ":")
	rc := r.Client(b)

	for _, f := range []struct{ name, diskless string }{{"sized", "no"}, {"eof-mark", "yes"}} {
		ctx := context.Background()
		if err := rc.ConfigSet(ctx, "repl-diskless-sync", f.diskless).Err(); err != nil {
			b.Fatal(err)
		}
		if err := rc.ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
			b.Fatal(err)
		}
		size := pullDiscard(b, r.Addr)
		b.Run("rdbak/"+f.name, func(b *testing.B) {
			b.SetBytes(size)
			var cpu time.Duration
			for b.Loop() {
				start := selfCPU(b)
				pullDiscard(b, r.Addr)
				cpu += selfCPU(b) - start
			}
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "client-cpu-ms/op")
		})
		b.Run("redis-cli/"+f.name, func(b *testing.B) {
			b.SetBytes(size)
			var cpu time.Duration
			for b.Loop() {
				// "-" is stdout, which exec points at /dev/null; a
				// /dev/null path instead fails redis-cli's final fsync.
				var stderr bytes.Buffer
				cmd := exec.Command(cli, "-h", host, "-p", port, "--rdb", "-")
				cmd.Stderr = &stderr
				if err := cmd.Run(); err != nil {
					b.Fatalf("redis-cli --rdb: %v\n%s", err, stderr.Bytes())
				}
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "client-cpu-ms/op")
		})
	}
}

// selfCPU returns the user and system CPU time of this process so far: the
// client's own cost, which the machine's load and the master's BGSAVE do
// not blur as much as the wall time.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMarkReader measures the EOF-mark reader alone, from memory.
func BenchmarkMarkReader(b *testing.B) {
	stream := append(randomBytes(64<<20, 1), testMark...)
	b.SetBytes(int64(len(stream) - eofMarkLen))
	for b.Loop() {
		r := newMarkReader(bytes.NewReader(stream), []byte(testMark))
		if _, err := io.CopyBuffer(discard{io.Discard}, r, make([]byte, 1<<20)); err != nil {
			b.Fatal(err)
		}
	}
}

// discard hides io.Discard's ReadFrom, whose 8 KiB reads would make the
// reader, not the transfer, the thing measured.
type discard struct{ io.Writer }

func pullDiscard(b *testing.B, addr string) int64 {
	s, err := (&PullSource{Addr: addr}).Open(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Body.Close()
	n, err := io.CopyBuffer(discard{io.Discard}, s.Body, make([]byte, 1<<20))
	if err != nil {
		b.Fatalf("pull after %d bytes: %v", n, err)
	}
	return n
}

// fillRandom writes keys × size bytes of random values.
func fillRandom(b *testing.B, r *testenv.Redis, keys, size int) {
	c := r.Client(b)
	rnd := rand.NewChaCha8([32]byte{1})
	ctx := context.Background()
	const batch = 5000
	for i := 0; i < keys; i += batch {
		p := c.Pipeline()
		for j := i; j < min(i+batch, keys); j++ {
			v := make([]byte, size)
			_, _ = rnd.Read(v)
			p.Set(ctx, fmt.Sprintf("key:%d", j), v, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatalf("fill: %v", err)
		}
	}
}
