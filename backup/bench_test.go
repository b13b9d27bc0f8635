package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// BenchmarkPipelineFile measures backup.Run without the network: an RDB file
// streamed from disk (the page cache after the first pass) through the
// verifier, SHA-256 of the raw and stored bytes, zstd at level fastest and a
// file:// repository, manifest included. Its MB/s is the throughput the
// pipeline can sustain, to compare with the transport's: hack/bench.sh runs
// it on the RDB it generated, named by RDBAK_BENCH_RDB. Without that
// variable it measures a small all-types RDB written by a real
// redis-server, so that `go test -bench` always has something to measure.
//
// The "ratio" metric is raw RDB bytes per stored byte.
func BenchmarkPipelineFile(b *testing.B) {
	path := os.Getenv("RDBAK_BENCH_RDB")
	if path == "" {
		path = smallRDB(b)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatalf("RDBAK_BENCH_RDB: %v", err)
	}
	ctx := context.Background()
	repo, err := storage.Open(ctx, "file://"+b.TempDir(), storage.Options{Create: true})
	if err != nil {
		b.Fatal(err)
	}
	defer repo.Close()
	comp, err := codec.Settings{}.Normalize()
	if err != nil {
		b.Fatal(err)
	}
	src := fileSource{path: path}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	var stored int64
	for b.Loop() {
		res, err := backup.Run(ctx, src, repo, backup.Options{Target: "bench", Compression: comp, SourceKind: "file"})
		if err != nil {
			b.Fatal(err)
		}
		stored = res.Manifest.Data.StoredSize
		// Only one backup at a time on disk, whatever b.N is.
		b.StopTimer()
		if err := repo.Delete(ctx, res.Manifest); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(st.Size())/float64(stored), "ratio")
}

// fileSource streams an existing RDB file for every Open, without a
// BGSAVE, so that the benchmark measures the pipeline and not Redis.
type fileSource struct{ path string }

func (s fileSource) Open(ctx context.Context) (*backup.Stream, error) {
	body, size, err := backup.LocalFiles{}.OpenFile(ctx, s.path)
	if err != nil {
		return nil, err
	}
	return &backup.Stream{Body: body, Size: size, Origin: "file " + s.path}, nil
}

// smallRDB has a real redis-server write the all-types dataset to a file
// and returns its path.
func smallRDB(b *testing.B) string {
	r := testenv.StartRedis(b, testenv.RedisOptions{})
	testenv.FillAllTypes(b, r, 40)
	client := redis.New(redis.Options{Addr: r.Addr})
	defer client.Close()
	if _, err := backup.Snapshot(context.Background(), client, backup.SnapshotOptions{}); err != nil {
		b.Fatalf("snapshot: %v", err)
	}
	r.Stop()
	return filepath.Join(r.Dir, "dump.rdb")
}
