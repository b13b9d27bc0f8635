package backup_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/internal/testenv"
)

// TestImport brings a dump.rdb into the repository: its manifest says
// import, its created time is the RDB's ctime, and it restores to the data
// the server had.
func TestImport(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	want := src.Digest(t)
	data := realRDBOf(t, src)
	path := filepath.Join(t.TempDir(), "dump.rdb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	info, err := rdb.Copy(io.Discard, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	ctime, ok := info.CTime()
	if !ok {
		t.Fatal("the RDB has no ctime")
	}
	repo := fileRepo(t)
	res, err := backup.Import(t.Context(), backup.LocalFiles{}, path, repo, backup.Options{Target: "imported", Compression: settings(t, "zstd"), Version: "test"})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	m := res.Manifest
	if m.Source.Kind != backup.SourceImport || m.Source.Origin != "import "+path || !m.Created.Equal(ctime.UTC()) {
		t.Errorf("manifest source %+v created %v; want import of %s created %v", m.Source, m.Created, path, ctime.UTC())
	}
	if m.Redis.Version == "" || m.Data.RawSize != int64(len(data)) {
		t.Errorf("manifest redis %s, raw size %d; want the redis-ver AUX field and %d bytes", m.Redis, m.Data.RawSize, len(data))
	}
	if got := restoreDigest(t, repo, m); got != want {
		t.Fatalf("restored digest %s, want %s", got, want)
	}

	given := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	res, err = backup.Import(t.Context(), backup.LocalFiles{}, path, repo, backup.Options{Target: "imported", Compression: settings(t, "zstd"), Created: given})
	if err != nil || !res.Manifest.Created.Equal(given) {
		t.Fatalf("Import with a given time: %v, created %v; want %v", err, res.Manifest.Created, given)
	}
}

func TestImportDamagedLeavesNothing(t *testing.T) {
	data := realRDB(t)
	data[len(data)/2] ^= 0x10
	path := filepath.Join(t.TempDir(), "dump.rdb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	repo := fileRepo(t)
	_, err := backup.Import(t.Context(), backup.LocalFiles{}, path, repo, backup.Options{Target: "imported", Compression: settings(t, "zstd")})
	if !errors.Is(err, rdb.ErrCorrupt) {
		t.Fatalf("Import of a damaged file: %v, want ErrCorrupt", err)
	}
	assertEmpty(t, repo)
}

// TestImportRefusesImplausibleCTime: a ctime before Redis existed or in the
// future would make the backup sort first, or stay latest for ever (and
// past year 9999 the manifest did not encode, leaving a directory behind);
// it is refused before anything is written, unless --created is given.
func TestImportRefusesImplausibleCTime(t *testing.T) {
	data := realRDB(t)
	at := bytes.Index(data, []byte("\x05ctime\xc2")) // AUX ctime as a 32-bit integer
	if at < 0 {
		t.Fatal("the RDB has no 32-bit ctime AUX field")
	}
	for _, ctime := range []int64{time.Now().Add(48 * time.Hour).Unix(), 86400} {
		c := bytes.Clone(data)
		binary.LittleEndian.PutUint32(c[at+7:], uint32(ctime))
		binary.LittleEndian.PutUint64(c[len(c)-8:], rdb.CRC64(0, c[:len(c)-8]))
		path := filepath.Join(t.TempDir(), "dump.rdb")
		if err := os.WriteFile(path, c, 0o600); err != nil {
			t.Fatal(err)
		}
		repo := fileRepo(t)
		if _, err := backup.Import(t.Context(), backup.LocalFiles{}, path, repo, backup.Options{Target: "imported", Compression: settings(t, "zstd")}); !errors.Is(err, backup.ErrCTime) {
			t.Errorf("ctime %d: %v, want ErrCTime", ctime, err)
		}
		assertEmpty(t, repo)
		given := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
		if res, err := backup.Import(t.Context(), backup.LocalFiles{}, path, repo, backup.Options{Target: "imported", Compression: settings(t, "zstd"), Created: given}); err != nil || !res.Manifest.Created.Equal(given) {
			t.Errorf("ctime %d with a given time: %v", ctime, err)
		}
	}
}

// TestOpenFilePipe: a pipe (rdbak inspect <(zcat dump.rdb.gz)) has size 0,
// and was read as an empty, truncated file; it is read to its end.
func TestOpenFilePipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "dump.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	data := realRDB(t)
	go func() {
		if err := os.WriteFile(fifo, data, 0o600); err != nil {
			t.Error(err)
		}
	}()
	body, size, err := backup.LocalFiles{}.OpenFile(t.Context(), fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	got, err := io.ReadAll(body)
	if err != nil || size != -1 || !bytes.Equal(got, data) {
		t.Errorf("read %d of %d bytes from a pipe, size %d, %v; want all, size -1 (unknown)", len(got), len(data), size, err)
	}
}
