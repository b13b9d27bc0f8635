package rdb

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/internal/testenv"
)

// infoField returns one field of INFO section.
func infoField(t testing.TB, c *redis.Client, section, field string) string {
	t.Helper()
	s, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatalf("INFO %s: %v", section, err)
	}
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// waitInfo polls INFO section until field has value want.
func waitInfo(t testing.TB, c *redis.Client, section, field, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for infoField(t, c, section, field) != want {
		if time.Now().After(deadline) {
			t.Fatalf("INFO %s: %s did not become %q", section, field, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// bgsave runs BGSAVE on r, waits for it and returns the RDB path.
func bgsave(t testing.TB, r *testenv.Redis) string {
	t.Helper()
	c := r.Client(t)
	if err := c.BgSave(context.Background()).Err(); err != nil {
		t.Fatalf("BGSAVE: %v", err)
	}
	waitInfo(t, c, "persistence", "rdb_bgsave_in_progress", "0")
	if s := infoField(t, c, "persistence", "rdb_last_bgsave_status"); s != "ok" {
		t.Fatalf("BGSAVE status %q\n%s", s, r.Log())
	}
	return filepath.Join(r.Dir, "dump.rdb")
}

// keyspace returns INFO keyspace as db index -> {keys, expires}.
func keyspace(t testing.TB, r *testenv.Redis) map[int][2]uint64 {
	t.Helper()
	s, err := r.Client(t).Info(context.Background(), "keyspace").Result()
	if err != nil {
		t.Fatalf("INFO keyspace: %v", err)
	}
	m := map[int][2]uint64{}
	for _, line := range strings.Split(s, "\r\n") {
		var db int
		var keys, expires uint64
		if _, err := fmt.Sscanf(line, "db%d:keys=%d,expires=%d", &db, &keys, &expires); err == nil {
			m[db] = [2]uint64{keys, expires}
		}
	}
	return m
}

// rdbVersionFor maps a Redis release to the RDB version it writes
// (redis-facts 1.1).
func rdbVersionFor(v [3]int) int {
	switch mm := v[0]*100 + v[1]; {
	case mm < 700:
		return 9
	case mm < 702:
		return 10
	case mm < 704:
		return 11
	case mm < 806:
		return 12
	default:
		return 13
	}
}

// copyFile runs Copy over the file at path and checks that the copy is
// byte-identical to the file and that Info agrees with the file and with
// what the server reports.
func copyFile(t *testing.T, r *testenv.Redis, path string) Info {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	info, err := Copy(h, f)
	if err != nil {
		t.Fatalf("Copy %s: %v", path, err)
	}
	if got, want := h.Sum(nil), sha256.Sum256(data); !bytes.Equal(got, want[:]) {
		t.Errorf("copy differs from the file")
	}
	if info.Size != int64(len(data)) {
		t.Errorf("Size = %d, want %d", info.Size, len(data))
	}
	if want := rdbVersionFor(r.Version); info.Version != want {
		t.Errorf("Version = %d, want %d for redis %v", info.Version, want, r.Version)
	}
	c := r.Client(t)
	if got, want := info.RedisVersion(), infoField(t, c, "server", "redis_version"); got != want {
		t.Errorf("AUX redis-ver = %q, want %q", got, want)
	}
	if ct, ok := info.CTime(); !ok || time.Since(ct) > time.Hour || time.Until(ct) > time.Minute {
		t.Errorf("CTime = %v, %v; want about now", ct, ok)
	}
	if stored := le64(data[len(data)-8:]); info.Checksum != stored {
		t.Errorf("Checksum = %016x, trailer holds %016x", info.Checksum, stored)
	}
	want := keyspace(t, r)
	got := map[int][2]uint64{}
	for _, db := range info.DBs {
		got[db.Index] = [2]uint64{db.Keys, db.Expires}
		if db.ResizeKeys != db.Keys || db.ResizeExpires != db.Expires {
			t.Errorf("db %d: RESIZEDB %d/%d, counted %d/%d", db.Index, db.ResizeKeys, db.ResizeExpires, db.Keys, db.Expires)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keys/expires per db = %v, INFO keyspace says %v", got, want)
	}
	return info
}

func TestCopyRedis(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, r, 2)
	info := copyFile(t, r, bgsave(t, r))
	if !info.ChecksumVerified || info.Checksum == 0 {
		t.Errorf("checksum %016x verified=%v, want a verified non-zero checksum", info.Checksum, info.ChecksumVerified)
	}
	if info.Aux["redis-bits"] != "64" {
		t.Errorf("AUX redis-bits = %q, want 64", info.Aux["redis-bits"])
	}
	if info.AOFBase() {
		t.Errorf("AOFBase() = true for a BGSAVE file")
	}
	if len(info.DBs) != 3 {
		t.Errorf("%d DBs, want 3 (FillAllTypes fills 0, 1, 3)", len(info.DBs))
	}
}

func TestCopyRedisChecksumOff(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"rdbchecksum no"}})
	fillSmall(t, r)
	info := copyFile(t, r, bgsave(t, r))
	if info.Checksum != 0 || info.ChecksumVerified {
		t.Errorf("checksum %016x verified=%v, want 0 and not verified", info.Checksum, info.ChecksumVerified)
	}
}

func TestCopyRedisCompressionOff(t *testing.T) {
	sizes := map[string]int64{}
	for _, comp := range []string{"yes", "no"} {
		r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"rdbcompression " + comp}})
		testenv.FillAllTypes(t, r, 1)
		info := copyFile(t, r, bgsave(t, r))
		sizes[comp] = info.Size
	}
	// FillAllTypes holds 360 kB of repetitive text per db: LZF must show.
	if sizes["no"] < sizes["yes"]+500_000 {
		t.Errorf("rdbcompression no gave %d bytes, yes %d: compression setting had no effect", sizes["no"], sizes["yes"])
	}
}

func TestCopyRedisFunctions(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	if r.Version[0] < 7 {
		t.Skipf("redis %v has no functions", r.Version)
	}
	c := r.Client(t)
	for _, lib := range []string{"liba", "libb"} {
		code := fmt.Sprintf("#!lua name=%s\nredis.register_function('%s_f', function() return 1 end)", lib, lib)
		if err := c.FunctionLoad(context.Background(), code).Err(); err != nil {
			t.Fatalf("FUNCTION LOAD: %v", err)
		}
	}
	fillSmall(t, r)
	info := copyFile(t, r, bgsave(t, r))
	if info.Functions != 2 {
		t.Errorf("Functions = %d, want 2", info.Functions)
	}
}

func TestCopyRedisAOFBase(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"appendonly yes", "aof-use-rdb-preamble yes"}})
	if r.Version[0] < 7 {
		t.Skipf("redis %v has no multi-part AOF", r.Version)
	}
	fillSmall(t, r)
	c := r.Client(t)
	if err := c.BgRewriteAOF(context.Background()).Err(); err != nil {
		t.Fatalf("BGREWRITEAOF: %v", err)
	}
	waitInfo(t, c, "persistence", "aof_rewrite_in_progress", "0")
	waitInfo(t, c, "persistence", "aof_rewrite_scheduled", "0")
	if s := infoField(t, c, "persistence", "aof_last_bgrewrite_status"); s != "ok" {
		t.Fatalf("BGREWRITEAOF status %q", s)
	}
	dir := filepath.Join(r.Dir, "appendonlydir")
	base := aofBase(t, filepath.Join(dir, "appendonly.aof.manifest"))
	info := copyFile(t, r, filepath.Join(dir, base))
	if !info.AOFBase() || info.Aux["aof-base"] != "1" {
		t.Errorf("AUX aof-base = %q, want 1", info.Aux["aof-base"])
	}
}

// aofBase returns the base file named in a multi-part AOF manifest.
func aofBase(t *testing.T, manifest string) string {
	t.Helper()
	f, err := os.Open(manifest)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 6 && fields[0] == "file" && fields[4] == "type" && fields[5] == "b" {
			return fields[1]
		}
	}
	t.Fatalf("no base file in %s", manifest)
	return ""
}

// fillSmall writes a few keys of every type and encoding into dbs 0 and 2;
// the RDB stays around 10 kB, small enough to cut at every offset.
func fillSmall(t testing.TB, r *testenv.Redis) {
	t.Helper()
	ctx := context.Background()
	c := r.Client(t)
	p := c.Pipeline()
	p.Set(ctx, "int", 12345, 0)
	p.Set(ctx, "neg", -70000, 0)
	p.Set(ctx, "str", "hello", 0)
	p.Set(ctx, "lzf", strings.Repeat("abc", 40), 0)
	p.Set(ctx, "ttl", "x", 48*time.Hour)
	p.RPush(ctx, "list", "a", "b", 1, 2)
	p.HSet(ctx, "hash", "f1", "v1", "f2", 2)
	p.SAdd(ctx, "intset", 1, 2, 3)
	p.SAdd(ctx, "set", "a", "b", "c")
	p.ZAdd(ctx, "zset", redis.Z{Score: 1.5, Member: "a"}, redis.Z{Score: -2, Member: "b"})
	for i := range 130 { // past the 128-entry listpack limits
		p.RPush(ctx, "biglist", strings.Repeat("l", 60+i))
		p.HSet(ctx, "bighash", fmt.Sprintf("f%d", i), i)
		p.SAdd(ctx, "bigset", fmt.Sprintf("m%d", i))
		p.ZAdd(ctx, "bigzset", redis.Z{Score: float64(i) / 7, Member: fmt.Sprintf("z%d", i)})
	}
	for i := range 5 {
		p.XAdd(ctx, &redis.XAddArgs{Stream: "stream", Values: []any{"n", i}})
	}
	p.XGroupCreate(ctx, "stream", "g", "0")
	p.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "alice", Streams: []string{"stream", ">"}, Count: 2})
	if _, err := p.Exec(ctx); err != nil {
		t.Fatalf("fill: %v", err)
	}
	c2 := redis.NewClient(&redis.Options{Addr: r.Addr, Password: r.Password, DB: 2})
	defer c2.Close()
	if err := c2.Set(ctx, "other", "db", time.Hour).Err(); err != nil {
		t.Fatalf("fill db 2: %v", err)
	}
}

// smallRDB returns the RDB of fillSmall from a fresh server.
func smallRDB(t *testing.T, config ...string) []byte {
	t.Helper()
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: config})
	fillSmall(t, r)
	data, err := os.ReadFile(bgsave(t, r))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestCopyTruncated(t *testing.T) {
	data := smallRDB(t)
	for n := range len(data) {
		var out bytes.Buffer
		_, err := Copy(&out, bytes.NewReader(data[:n]))
		// A prefix of a valid file parses like the file until the data runs
		// out, so truncation is the only possible diagnosis.
		if !errors.Is(err, errEndOfInput) {
			t.Fatalf("cut at %d of %d: error %v, want a truncation ErrCorrupt", n, len(data), err)
		}
		if !bytes.Equal(out.Bytes(), data[:n]) {
			t.Fatalf("cut at %d: copied %d bytes, want all %d read", n, out.Len(), n)
		}
	}
}

func TestCopyBitFlips(t *testing.T) {
	data := smallRDB(t)
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 1 << (i % 8)
		_, err := Copy(io.Discard, bytes.NewReader(bad))
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("bit %d of byte %d flipped: error %v, want ErrCorrupt", i%8, i, err)
		}
	}
}

// TestCopyChunking feeds the same file in reads of every shape: the result
// must not depend on how the source splits its data.
func TestCopyChunking(t *testing.T) {
	data := smallRDB(t)
	want, err := Copy(io.Discard, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	readers := map[string]io.Reader{
		"one byte":     iotest.OneByteReader(bytes.NewReader(data)),
		"half":         iotest.HalfReader(bytes.NewReader(data)),
		"data and EOF": iotest.DataErrReader(bytes.NewReader(data)),
		"random":       &chunkReader{data: data, rnd: rand.New(rand.NewPCG(3, 4))},
	}
	for name, rd := range readers {
		var out bytes.Buffer
		got, err := Copy(&out, rd)
		if err != nil {
			t.Errorf("%s: Copy: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) || !bytes.Equal(out.Bytes(), data) {
			t.Errorf("%s: Info %+v, want %+v", name, got, want)
		}
	}
}

// chunkReader returns data in random-sized reads, some of them empty.
type chunkReader struct {
	data []byte
	rnd  *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), c.rnd.IntN(40))
	n = copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

var errBoom = errors.New("boom")

type failWriter struct{ left int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errBoom
	}
	w.left -= len(p)
	return len(p), nil
}

func TestCopyIOErrors(t *testing.T) {
	data := newRDB(9).selectDB(0).set("k", strings.Repeat("v", 1<<20)).end(true)
	_, err := Copy(&failWriter{left: 300 << 10}, bytes.NewReader(data))
	if !errors.Is(err, errBoom) || errors.Is(err, ErrCorrupt) {
		t.Errorf("failing writer: error %v, want %v and not ErrCorrupt", err, errBoom)
	}
	_, err = Copy(io.Discard, io.MultiReader(bytes.NewReader(data[:1000]), iotest.ErrReader(errBoom)))
	if !errors.Is(err, errBoom) || errors.Is(err, ErrCorrupt) {
		t.Errorf("failing reader: error %v, want %v and not ErrCorrupt", err, errBoom)
	}
	// The trailing byte arrives together with EOF and the writer refuses it:
	// the write error must win over the clean end of the file.
	good := newRDB(9).selectDB(0).set("k", "v").end(true)
	src := iotest.DataErrReader(io.MultiReader(bytes.NewReader(good), strings.NewReader("x")))
	_, err = Copy(&failWriter{left: len(good)}, src)
	if !errors.Is(err, errBoom) {
		t.Errorf("failing writer on trailing byte: error %v, want %v", err, errBoom)
	}
	_, err = Copy(io.Discard, iotest.ErrReader(nil))
	if !errors.Is(err, io.ErrNoProgress) {
		t.Errorf("reader without progress: error %v, want io.ErrNoProgress", err)
	}
}

func TestCRC64(t *testing.T) {
	if got := CRC64(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Errorf("CRC64(123456789) = %016x, want e9c6d914c4b8d9ca", got)
	}
	rnd := rand.New(rand.NewPCG(5, 6))
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(rnd.UintN(256))
	}
	for range 200 {
		a, b := rnd.IntN(len(data)), rnd.IntN(len(data))
		a, b = min(a, b), max(a, b)
		got := CRC64(CRC64(0, data[:a]), data[a:b])
		if want := bitwiseCRC64(data[:b]); got != want {
			t.Fatalf("CRC64 of %d bytes split at %d = %016x, bitwise %016x", b, a, got, want)
		}
	}
}

// TestCRC64CLMUL checks the carry-less multiplication path against the
// bitwise CRC at every block count up to 40, from unaligned starts and with
// a running CRC coming in.
func TestCRC64CLMUL(t *testing.T) {
	if !useCLMUL {
		t.Skip("this CPU (or build) has no PCLMULQDQ; CRC64 uses the tables alone")
	}
	rnd := rand.New(rand.NewPCG(7, 8))
	data := make([]byte, 41*foldBlock)
	for i := range data {
		data[i] = byte(rnd.UintN(256))
	}
	for blocks := 1; blocks <= 40; blocks++ {
		a := rnd.IntN(foldBlock)
		b := a + blocks*foldBlock
		crc := bitwiseCRC64(data[:a])
		if got, want := crc64CLMUL(crc, data[a:b], &clmulJones), bitwiseCRC64(data[:b]); got != want {
			t.Fatalf("crc64CLMUL of %d blocks from offset %d = %016x, bitwise %016x", blocks, a, got, want)
		}
	}
}

// TestCLMULConstants derives the constants for the NVMe polynomial, which
// differs from Jones's in a few bits, and compares them with the ones
// github.com/minio/crc64nvme v1.0.1 publishes in its assembly: the same
// derivation, checked against an independent implementation.
func TestCLMULConstants(t *testing.T) {
	want := [18]uint64{
		0xa1ca681e733f9c40, 0x5f852fb61e8d92dc, // fold by 1024 bits
		0xd083dd594d96319d, 0x946588403d4adcbc,
		0x3c255f5ebc414423, 0x34f5a24e22d66e90,
		0x7b0ab10dd0f809fe, 0x03363823e6e791e5,
		0x0c32cdb31e18a84a, 0x62242240ace5045a,
		0xbdd7ac0ee1a4a0f0, 0xa3ffdc1fe8e82a8b,
		0xb0bc2e589204f500, 0xe1e0bb9d45d7a44c,
		0xeadc41fd2ba3d420, 0x21e9761e252621ac, // fold by 128 bits
		0x27ecfa329aef9f77, 0x34d926535897936b, // Barrett: quotient, P
	}
	if got := clmulConstants(0x9a6c9329ac4bc9b5); got != want {
		t.Errorf("clmulConstants(NVMe) =\n%016x\nwant\n%016x", got, want)
	}
}

func TestDecimalLen(t *testing.T) {
	for _, n := range []int64{0, 1, 9, 10, -1, -9, -10, 99, 100, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		if got, want := decimalLen(n), uint64(len(strconv.FormatInt(n, 10))); got != want {
			t.Errorf("decimalLen(%d) = %d, want %d", n, got, want)
		}
	}
}

// bitwiseCRC64 is src/crc64.c's _crc64 (reflected, init 0, no xorout), one
// bit at a time, independent of the table code under test.
func bitwiseCRC64(p []byte) uint64 {
	var crc uint64
	for _, c := range p {
		crc ^= uint64(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ jonesPoly
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// TestSeedCorpus checks that the real RDBs in the fuzz corpus still parse
// cleanly, so the real-server coverage holds where redis-server is absent.
func TestSeedCorpus(t *testing.T) {
	paths, err := filepath.Glob("testdata/fuzz/FuzzCopy/redis-*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no real RDB seeds in testdata/fuzz/FuzzCopy (%v)", err)
	}
	for _, path := range paths {
		data := readSeed(t, path)
		info, err := Copy(io.Discard, bytes.NewReader(data))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if info.KeysTotal() == 0 || info.RedisVersion() == "" {
			t.Errorf("%s: %d keys, redis-ver %q; want a filled dataset", path, info.KeysTotal(), info.RedisVersion())
		}
		if wantSum := !strings.Contains(path, "nochecksum"); info.ChecksumVerified != wantSum {
			t.Errorf("%s: ChecksumVerified = %v, want %v", path, info.ChecksumVerified, wantSum)
		}
	}
}

// readSeed decodes a "go test fuzz v1" file holding one []byte.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lit, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "go test fuzz v1\n[]byte(")
	if !ok || !strings.HasSuffix(lit, ")") {
		t.Fatalf("%s: not a []byte corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}
