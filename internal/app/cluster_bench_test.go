package app

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
)

// BenchmarkClusterBackupReplay backs up a 3-master cluster with replicas
// (redis-server on PATH) holding 300k keys of 180 random letters, with the
// default cluster settings (2 shards at once, 2 s stagger, and Redis's own
// repl-diskless-sync-delay before each snapshot), then replays the set into
// a 4-master cluster, and reports keys/s and RDB MB/s of each:
//
//	go test ./internal/app -run '^$' -bench ClusterBackupReplay -benchtime 1x
func BenchmarkClusterBackupReplay(b *testing.B) {
	const keys = 300_000
	src := testenv.StartCluster(b, testenv.ClusterOptions{Replicas: 1, Config: []string{"repl-diskless-sync-delay 5"}}) // Redis's default
	cl := src.Client(b)
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(5, 6))
	value := make([]byte, 180)
	for i := 0; i < keys; i += 10_000 {
		p := cl.Pipeline()
		for j := i; j < i+10_000; j++ {
			for k := range value {
				value[k] = byte('a' + rnd.UintN(26)) // compresses like text, not like a run
			}
			p.Set(ctx, fmt.Sprintf("key:%08d", j), string(value), 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	src.WaitReady(b)
	repo, err := openBenchRepo(b)
	if err != nil {
		b.Fatal(err)
	}
	comp, _ := Compression(config.Compression{Codec: "zstd"})
	target := &config.Target{Name: "bench", Redis: src.URL(), Source: config.SourceReplication}
	for range b.N {
		start := time.Now()
		res, err := clusterApp().Backup(ctx, target, repo, comp, nil)
		if err != nil {
			b.Fatal(err)
		}
		backup := time.Since(start).Seconds()
		m := res.Manifest
		dst := testenv.StartCluster(b, testenv.ClusterOptions{Masters: 4})
		rep, err := clusterApp().Replay(ctx, repo, m, &config.Target{Name: "to", Redis: dst.URL()}, ReplayOptions{})
		if err != nil || rep.Restored != keys {
			b.Fatalf("replay: %v (%+v)", err, rep)
		}
		mb := float64(m.Data.RawSize) / 1e6
		b.ReportMetric(float64(keys)/backup, "backup-keys/s")
		b.ReportMetric(mb/backup, "backup-MB/s")
		b.ReportMetric(float64(keys)/rep.Replay, "replay-keys/s")
		b.ReportMetric(mb/rep.Replay, "replay-MB/s")
		b.ReportMetric(rep.Verify, "verify-s")
		b.ReportMetric(mb, "rdb-MB")
	}
}
