package rdb

import (
	"bytes"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rdbak/rdbak/internal/testenv"
)

// zipmap {"f": "v"}: count, key len, key, value len, free, value, end.
var zipmapFV = string([]byte{1, 1, 'f', 1, 0, 'v', 0xFF})

func v6File() []byte {
	b := newRDB(6).selectDB(0).
		set("a", "1").
		raw(typeList).str("l").len(2).str("x").int8(5).
		raw(typeSet).str("s").len(1).str("m").
		raw(typeZset).str("z").len(3).str("m1").raw(3, '1', '.', '5').str("m3").raw(254).str("m4").raw(255).
		raw(typeHash).str("h").len(1).str("f").str("v")
	b.expireSec(2000000000).set("e1", "x")
	b.expireMs(4102444800000).raw(typeString).int16(-300).str("value of an integer-named key")
	b.selectDB(5).raw(typeHashZipmap).str("zm").str(zipmapFV)
	return b.end(true)
}

// streamBody writes a stream with one node, one group with one pending
// entry and one consumer, in the layout of type t.
func (b *builder) stream(t byte) *builder {
	id := strings.Repeat("\x00", 15) + "\x01"
	b.raw(t).str("st").len(1).str(id).str("listpack-bytes")
	b.len(1).len(1).len(0) // length, last id
	if t >= typeStreamListpacks2 {
		b.len(1).len(0).len(0).len(0).len(1) // first id, max deleted, entries added
	}
	b.len(1).str("group").len(1).len(0) // one group, last id
	if t >= typeStreamListpacks2 {
		b.len(1) // entries read
	}
	b.len(1).raw([]byte(id)...).le64(1700000000000).len(2) // PEL
	b.len(1).str("alice").le64(1700000000000)              // consumer, seen time
	if t >= typeStreamListpacks3 {
		b.le64(1700000000001) // active time
	}
	b.len(1).raw([]byte(id)...) // consumer PEL
	if t == typeStreamListpacks4 {
		b.len(100).len(1000).len(1).str("producer-1").len(2)
		b.str("iid-1").len(1).len(0).int8(7).len(1).len(1)
		b.len(2).len(0) // iids added, duplicates
	}
	return b
}

type handCase struct {
	name  string
	data  []byte
	want  Info
	redis bool // redis-check-rdb 7.0 can load it too
}

// handBuilt returns valid files for every version and record kind; they
// also seed FuzzCopy.
func handBuilt() []handCase {
	aux := func(b *builder) *builder { return b.aux("redis-ver", "9.9.9").raw(opAux).str("redis-bits").int8(64) }
	mod1, mod2 := moduleID("mymodtype", 3), moduleID("other-mod", 1)
	return []handCase{
		{
			name: "v6 without AUX or RESIZEDB", data: v6File(), redis: true,
			want: Info{Version: 6, DBs: []DB{{Index: 0, Keys: 7, Expires: 2}, {Index: 5, Keys: 1}}, ChecksumVerified: true},
		},
		{
			name: "v4 has no checksum", data: newRDB(4).selectDB(0).set("k", "v").end(true), redis: true,
			want: Info{Version: 4, DBs: []DB{{Keys: 1}}},
		},
		{
			name: "v5 with checksum disabled", data: newRDB(5).selectDB(0).set("k", "v").end(false), redis: true,
			want: Info{Version: 5, DBs: []DB{{Keys: 1}}},
		},
		{
			name: "v8 expiry written by a big-endian host", redis: true,
			data: aux(newRDB(8)).selectDB(0).resize(2, 1).expireMsBE(4102444800000).set("k", "v").
				raw(typeZset2).str("z").len(1).str("m").le64(math.Float64bits(1.5)).end(true),
			want: Info{Version: 8, Aux: map[string]string{"redis-ver": "9.9.9", "redis-bits": "64"},
				DBs: []DB{{ResizeKeys: 2, ResizeExpires: 1, Keys: 2, Expires: 1}}, ChecksumVerified: true},
		},
		{
			name: "32-bit lengths where short ones would do", redis: true,
			data: newRDB(6).raw(opSelectDB).len32(2).raw(typeString).len32(1).raw('k').len32(3).raw('a', 'b', 'c').
				raw(typeSet).str("s").len32(2).str("a").len32(0).end(true),
			want: Info{Version: 6, DBs: []DB{{Index: 2, Keys: 2}}, ChecksumVerified: true},
		},
		{
			name: "64-bit length in v8",
			data: newRDB(8).selectDB(0).raw(typeString).str("k").raw(len64, 0, 0, 0, 0, 0, 0, 0, 1, 'v').end(true),
			want: Info{Version: 8, DBs: []DB{{Keys: 1}}, ChecksumVerified: true},
		},
		{
			name: "v9 modules, IDLE, FREQ", redis: true,
			data: aux(newRDB(9)).raw(opModuleAux).len(mod1).len(moduleUint).len(1).moduleItems().
				selectDB(0).raw(opIdle).len(1000).raw(typeModule2).str("mk").len(mod1).moduleItems().
				raw(opFreq, 5).raw(typeModule2).str("mk2").len(mod2).moduleItems().
				raw(opModuleAux).len(mod1).len(moduleUint).len(2).moduleItems().end(true),
			want: Info{Version: 9, Aux: map[string]string{"redis-ver": "9.9.9", "redis-bits": "64"},
				DBs: []DB{{Keys: 2}}, Modules: []string{"mymodtype", "other-mod"}, ChecksumVerified: true},
		},
		{
			// Not checked by redis-check-rdb: it validates the listpack.
			name: "v9 stream v1",
			data: newRDB(9).selectDB(0).stream(typeStreamListpacks).end(true),
			want: Info{Version: 9, DBs: []DB{{Keys: 1}}, ChecksumVerified: true},
		},
		{
			name: "v10 functions, quicklist 2, listpacks, stream v2",
			data: aux(newRDB(10)).raw(opFunction2).str("#!lua name=a\n").raw(opFunction2).str("#!lua name=b\n").
				selectDB(0).raw(typeListQuicklist2).str("l").len(2).len(1).str("plain").len(2).str("lp").
				raw(typeHashListpack).str("h").str("lp").raw(typeZsetListpack).str("z").str("lp").
				stream(typeStreamListpacks2).end(true),
			want: Info{Version: 10, Aux: map[string]string{"redis-ver": "9.9.9", "redis-bits": "64"},
				DBs: []DB{{Keys: 4}}, Functions: 2, ChecksumVerified: true},
		},
		{
			name: "v11 set listpack, stream v3, NaN score",
			data: newRDB(11).selectDB(1).raw(typeSetListpack).str("s").str("lp").stream(typeStreamListpacks3).
				raw(typeZset).str("z").len(1).str("nan").raw(253).end(true),
			want: Info{Version: 11, DBs: []DB{{Index: 1, Keys: 3}}, ChecksumVerified: true},
		},
		{
			name: "v12 hash field TTLs, SLOT_INFO",
			data: newRDB(12).selectDB(0).resize(4, 0).raw(opSlotInfo).len(866).len(4).len(0).
				raw(typeHashMetadata).str("h").le64(1700000000000).len(2).len(0).str("f").str("v").len(5).str("g").int32(70000).
				raw(typeHashListpackEx).str("hl").le64(0).str("lp").
				raw(typeHashMetadataPreGA).str("hp").len(1).len(1700000000000).str("f").str("v").
				raw(typeHashListpackExPreGA).str("hq").str("lp").end(true),
			want: Info{Version: 12, DBs: []DB{{ResizeKeys: 4, Keys: 4}}, ChecksumVerified: true},
		},
		{
			name: "v13 KEY_META, stream v4",
			data: newRDB(13).selectDB(0).expireMs(4102444800000).raw(opKeyMeta).len(2).
				raw('A', 'B', 'C', 'D').moduleItems().raw('E', 'F', 'G', 'H').len(moduleEOF).set("k", "v").
				stream(typeStreamListpacks4).end(true),
			want: Info{Version: 13, DBs: []DB{{Keys: 2, Expires: 1}}, ChecksumVerified: true},
		},
		{
			name: "AUX values in integer and LZF forms",
			data: newRDB(10).raw(opAux).str("i8").int8(-128).raw(opAux).str("i16").int16(-32768).
				raw(opAux).str("i32").int32(math.MinInt32).
				raw(opAux).str("repl-id").lzf([]byte{2, 'a', 'b', 'c', 0xE0, 0, 2, 0x20, 0}, 15).
				raw(opAux).str("redis-ver").str("7.0.15").raw(opAux).str("redis-ver").str("7.0.16").end(true),
			want: Info{Version: 10, Aux: map[string]string{"i8": "-128", "i16": "-32768", "i32": "-2147483648",
				"repl-id": "abcabcabcabcccc", "redis-ver": "7.0.16"}, ChecksumVerified: true},
		},
		{
			name: "keys before SELECTDB, DB selected twice",
			data: newRDB(9).set("a", "1").selectDB(3).set("b", "2").selectDB(0).set("c", "3").end(true),
			want: Info{Version: 9, DBs: []DB{{Keys: 2}, {Index: 3, Keys: 1}}, ChecksumVerified: true},
		},
		{
			// rdbLoad accepts every opcode and type it knows in a file of
			// any version, and the 64-bit length form too.
			name: "AUX in v6", data: newRDB(6).aux("redis-ver", "2.8.0").selectDB(0).set("k", "v").end(true), redis: true,
			want: Info{Version: 6, Aux: map[string]string{"redis-ver": "2.8.0"}, DBs: []DB{{Keys: 1}}, ChecksumVerified: true},
		},
		{
			name: "64-bit length in v7", redis: true,
			data: newRDB(7).selectDB(0).raw(typeString).str("k").raw(len64, 0, 0, 0, 0, 0, 0, 0, 1, 'v').end(true),
			want: Info{Version: 7, DBs: []DB{{Keys: 1}}, ChecksumVerified: true},
		},
		{
			name: "FUNCTION2 in v9, SLOT_INFO in v11, KEY_META in v12, listpack hash in v9",
			data: newRDB(9).raw(opFunction2).str("#!lua name=a\n").selectDB(0).raw(opSlotInfo).len(1).len(1).len(0).
				raw(opKeyMeta).len(0).set("k", "v").raw(typeHashListpack).str("h").str("lp").
				stream(typeStreamListpacks4).end(true),
			want: Info{Version: 9, DBs: []DB{{Keys: 3}}, Functions: 1, ChecksumVerified: true},
		},
		{
			name: "v14 and v15 with the types of v13",
			data: newRDB(15).aux("redis-ver", "8.10.0").selectDB(0).set("k", "v").stream(typeStreamListpacks4).
				raw(typeHashListpackEx).str("hl").le64(0).str("lp").end(true),
			want: Info{Version: 15, Aux: map[string]string{"redis-ver": "8.10.0"}, DBs: []DB{{Keys: 3}}, ChecksumVerified: true},
		},
		{
			name: "VALKEY080: Valkey 9 without field TTLs or slot imports",
			data: newValkeyRDB(80).aux("valkey-ver", "9.0.0").raw(opAux).str("redis-ver").str("7.2.4").
				raw(opFunction2).str("#!lua name=a\n").selectDB(0).resize(3, 1).raw(opSlotInfo).len(1).len(3).len(1).
				expireMs(4102444800000).set("k", "v").raw(typeSetListpack).str("s").str("lp").stream(typeStreamListpacks3).
				end(true),
			want: Info{Magic: MagicValkey, Version: 80, Aux: map[string]string{"valkey-ver": "9.0.0", "redis-ver": "7.2.4"},
				DBs: []DB{{ResizeKeys: 3, ResizeExpires: 1, Keys: 3, Expires: 1}}, Functions: 1, ChecksumVerified: true},
		},
		{
			name: "VALKEY081 with checksum disabled",
			data: newValkeyRDB(81).selectDB(2).set("k", "v").end(false),
			want: Info{Magic: MagicValkey, Version: 81, DBs: []DB{{Index: 2, Keys: 1}}},
		},
		{
			name: "empty dataset",
			data: newRDB(12).end(true),
			want: Info{Version: 12, ChecksumVerified: true},
		},
	}
}

func TestCopyHandBuilt(t *testing.T) {
	for _, tt := range handBuilt() {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := Copy(&out, bytes.NewReader(tt.data))
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if !bytes.Equal(out.Bytes(), tt.data) {
				t.Errorf("copied %d bytes, want the %d input bytes", out.Len(), len(tt.data))
			}
			want := tt.want
			if want.Aux == nil {
				want.Aux = map[string]string{}
			}
			want.Size = int64(len(tt.data))
			if want.Magic == "" {
				want.Magic = MagicRedis
			}
			if tt.data[len("REDIS0000")-1] >= '5' || want.Version >= 10 {
				want.Checksum = uint64(le64(tt.data[len(tt.data)-8:]))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Info:\n got %+v\nwant %+v", got, want)
			}
			if tt.redis {
				redisCheck(t, tt.data)
			}
		})
	}
}

func le64(p []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	return v
}

// redisCheck runs redis-check-rdb on data, so a hand-built file is known to
// be one Redis itself accepts, not only one this package accepts.
func redisCheck(t *testing.T, data []byte) {
	t.Helper()
	bin := testenv.LookPath(t, "redis-check-rdb")
	path := filepath.Join(t.TempDir(), "dump.rdb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, path).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("RDB looks OK")) {
		t.Errorf("redis-check-rdb rejects the file (%v):\n%s", err, out)
	}
}

func TestCopyRejects(t *testing.T) {
	good := newRDB(9).selectDB(0).set("k", "v").end(true)
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	unparsed := newRDB(99).selectDB(0).set("k", "v").end(true)
	tests := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"empty input", nil, ErrCorrupt, "truncated"},
		{"bad magic", []byte("REDIX0009\xff"), ErrCorrupt, "neither REDIS nor VALKEY"},
		{"garbage", bytes.Repeat([]byte("garbage!"), 20), ErrCorrupt, "does not end in EOF and a matching CRC-64"},
		{"version not digits", []byte("REDIS00a9\xff"), ErrCorrupt, "4 digits"},
		{"version 0", newRDB(0).end(true), ErrCorrupt, "version 0"},
		{"header only", []byte("REDIS0011"), ErrCorrupt, "truncated"},
		{"checksum mismatch", badSum, ErrCorrupt, "checksum mismatch"},
		{"checksum mismatch in version 99", append(bytes.Clone(unparsed[:len(unparsed)-1]), unparsed[len(unparsed)-1]^1), ErrCorrupt, "does not end in EOF"},
		{"version 99 without checksum", newRDB(99).selectDB(0).set("k", "v").end(false), ErrUnsupportedVersion, "nothing can verify it"},
		{"VALKEY079 without checksum", newValkeyRDB(79).end(false), ErrUnsupportedVersion, "VALKEY079"},
		{"trailing byte", append(bytes.Clone(good), 0), ErrCorrupt, "trailing"},
		{"trailing byte after version 99", append(bytes.Clone(unparsed), 0), ErrCorrupt, "does not end in EOF"},
		{"trailer in a v4 file", newRDB(4).selectDB(0).end(false)[:0:0], ErrCorrupt, ""},
		{"trailing bytes after v4", append(newRDB(4).selectDB(0).set("k", "v").end(true), make([]byte, 8)...), ErrCorrupt, "trailing"},
		{"type 8 in a v4 file", newRDB(4).selectDB(0).raw(8).str("k").str("v").end(true), ErrCorrupt, "unknown value type 8"},
		{"missing trailer", good[:len(good)-8], ErrCorrupt, "read checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Copy(&out, bytes.NewReader(tt.data))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Copy error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if !bytes.HasPrefix(tt.data, out.Bytes()) {
				t.Errorf("copied bytes are not a prefix of the input")
			}
		})
	}
}

// unparsable are files whose structure Copy does not accept, each with
// what its error says. Without a checksum Copy refuses them; with a valid
// one it accepts them on the CRC-64 alone and records why.
func unparsable() []struct {
	name string
	b    *builder
	msg  string
} {
	return []struct {
		name string
		b    *builder
		msg  string
	}{
		{"version 99", newRDB(99).selectDB(0).set("k", "v"), "RDB version 99 is newer than this rdbak (REDIS 1..15 known)"},
		{"VALKEY082", newValkeyRDB(82).selectDB(0).set("k", "v"), "VALKEY082 is not one this rdbak knows (VALKEY080..081)"},
		{"unknown magic", &builder{Buffer: *bytes.NewBufferString("KEYDB0011"), version: 11}, "neither REDIS nor VALKEY"},
		{"type 8", newRDB(9).selectDB(0).raw(8).str("k").str("v"), "unknown value type 8"},
		{"type 27", newRDB(14).selectDB(0).raw(27).str("k").str("v"), "value type 27 (stream-listpacks-5) has a layout this rdbak does not parse"},
		{"type 28", newRDB(14).selectDB(0).raw(28).str("k").str("v"), "value type 28 (array)"},
		{"type 31", newRDB(15).selectDB(0).raw(31).str("k").str("v"), "value type 31 (hash-tmpl-array)"},
		{"type 33", newRDB(15).selectDB(0).raw(33).str("k").str("v"), "unknown value type 33"},
		{"HASH_TEMPLATES", newRDB(15).raw(opHashTemplates).len(0), "opcode 0xf2 (Redis HASH_TEMPLATES, RDB 15)"},
		{"Valkey hash-2", newValkeyRDB(80).selectDB(0).raw(typeValkeyHash2).str("h").len(0), "value type 22 (Valkey hash-2)"},
		{"Valkey SLOT_IMPORT", newValkeyRDB(80).raw(opSlotImport).str("job").len(0), "opcode 0xf3 (Valkey SLOT_IMPORT)"},
		{"Valkey type 24", newValkeyRDB(81).selectDB(0).raw(typeHashMetadata).str("h"), "unknown value type 24 for VALKEY"},
		{"module pre-GA", newRDB(8).selectDB(0).raw(typeModulePreGA).str("k"), "release candidates"},
		{"function pre-GA", newRDB(10).raw(opFunctionPreGA).str("f"), "release candidates"},
		{"length encoding 0x82", newRDB(9).raw(opSelectDB, 0x82), "unknown length encoding 0x82"},
		{"string encoding as a length", newRDB(9).raw(opSelectDB, 0xC0), "where a length belongs"},
		{"string encoding 4", newRDB(9).selectDB(0).raw(typeString, 0xC4), "unknown string encoding 4"},
		{"expire then EOF", newRDB(9).selectDB(0).expireMs(1), "EXPIRETIME_MS not followed by a key"},
		{"IDLE then SELECTDB", newRDB(9).selectDB(0).raw(opIdle).len(1).selectDB(1), "IDLE not followed by a key"},
		{"KEY_META then EXPIRETIME_MS", newRDB(13).selectDB(0).raw(opKeyMeta).len(1).raw('A', 'B', 'C', 'D').len(moduleEOF).
			expireMs(1).set("k", "v"), "KEY_META followed by opcode 0xfc"},
		{"RESIZEDB before SELECTDB", newRDB(9).resize(1, 0), "before SELECTDB"},
		{"quicklist container 3", newRDB(10).selectDB(0).raw(typeListQuicklist2).str("l").len(1).len(3).str("x"), "container 3"},
		{"stream node key of 15 bytes", newRDB(10).selectDB(0).raw(typeStreamListpacks2).str("s").len(1).str("123456789012345"), "stream node key of 15 bytes"},
		{"module aux when-opcode", newRDB(9).raw(opModuleAux).len(moduleID("mymodtype", 1)).len(moduleSint).len(1).len(0), "when-opcode 1"},
		{"module opcode 6", newRDB(9).selectDB(0).raw(typeModule2).str("k").len(moduleID("mymodtype", 1)).len(6), "module item opcode 6"},
		{"consumer PEL overflow", newRDB(9).selectDB(0).raw(typeStreamListpacks).str("s").len(0).len(0).len(0).len(0).
			len(1).str("g").len(0).len(0).len(0).len(1).str("c").le64(0).len(1 << 62), "consumer PEL"},
		{"AUX value over the limit", newRDB(9).raw(opAux).str("k").len(maxAuxLen + 1), "may hold"},
		{"AUX LZF invalid", newRDB(9).raw(opAux).str("k").lzf([]byte{0x20, 5}, 3), "LZF"},
		{"DB index out of range", newRDB(9).raw(opSelectDB).len(1 << 40), "out of range"},
		{"misread length runs past the end", newRDB(12).selectDB(0).raw(typeString).str("k").len(1 << 20).raw('v'), "truncated"},
	}
}

// ended returns b's bytes with EOF and the trailer, leaving b as it was.
func ended(b *builder, checksum bool) []byte {
	c := &builder{version: b.version}
	c.Write(b.Bytes())
	return c.end(checksum)
}

// TestCopyStrictWithoutChecksum: with rdbchecksum off the parse is the only
// check, so a structure Copy cannot parse is refused.
func TestCopyStrictWithoutChecksum(t *testing.T) {
	for _, tt := range unparsable() {
		t.Run(tt.name, func(t *testing.T) {
			data := ended(tt.b, false)
			var out bytes.Buffer
			_, err := Copy(&out, bytes.NewReader(data))
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("Copy error %v, want ErrCorrupt or ErrUnsupportedVersion", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if !bytes.Equal(out.Bytes(), data) && !bytes.HasPrefix(data, out.Bytes()) {
				t.Errorf("copied bytes are not a prefix of the input")
			}
		})
	}
}

// TestCopyChecksumOnly: with a valid CRC-64 the same files are accepted,
// every byte copied, and Info says the structure was not parsed and why.
func TestCopyChecksumOnly(t *testing.T) {
	for _, tt := range unparsable() {
		t.Run(tt.name, func(t *testing.T) {
			data := ended(tt.b, true)
			var out bytes.Buffer
			info, err := Copy(&out, bytes.NewReader(data))
			if err != nil {
				t.Fatalf("Copy: %v", err)
			}
			if !bytes.Equal(out.Bytes(), data) {
				t.Errorf("copied %d bytes, want the %d input bytes", out.Len(), len(data))
			}
			if !strings.Contains(info.Unparsed, tt.msg) || strings.Contains(info.Unparsed, "rdb corrupt") {
				t.Errorf("Unparsed %q, want it to say %q (without the sentinel)", info.Unparsed, tt.msg)
			}
			if want := "not-parsed: " + info.Unparsed; info.Structure() != want {
				t.Errorf("Structure() = %q, want %q", info.Structure(), want)
			}
			if !info.ChecksumVerified || info.Checksum != le64(data[len(data)-8:]) || info.Size != int64(len(data)) {
				t.Errorf("checksum %016x verified %v size %d; want the trailer, verified, %d", info.Checksum, info.ChecksumVerified, info.Size, len(data))
			}
			if len(info.DBs) != 0 || info.Functions != 0 || len(info.Modules) != 0 {
				t.Errorf("partial counts kept: DBs %+v functions %d modules %v", info.DBs, info.Functions, info.Modules)
			}
			// Small reads must not change the verdict.
			info2, err := Copy(io_discard{}, iotest.OneByteReader(bytes.NewReader(data)))
			if err != nil || !reflect.DeepEqual(info, info2) {
				t.Errorf("one-byte reads: %v %+v, want %+v", err, info2, info)
			}
		})
	}
}

// TestCopyHugeLengths feeds declared lengths far beyond the input: they
// must end in a truncation error without allocating for the declared size.
func TestCopyHugeLengths(t *testing.T) {
	tests := map[string][]byte{
		"string of 2^60 bytes":    newRDB(9).selectDB(0).raw(typeString).str("k").len(1 << 60).raw(make([]byte, 1000)...).Bytes(),
		"set of 2^62 members":     newRDB(9).selectDB(0).raw(typeSet).str("k").len(1 << 62).str("a").str("b").Bytes(),
		"LZF of 2^61 bytes":       newRDB(9).selectDB(0).raw(typeString).str("k").raw(0xC3).len(1 << 61).len(1 << 62).Bytes(),
		"stream of 2^50 groups":   newRDB(9).selectDB(0).raw(typeStreamListpacks).str("s").len(0).len(0).len(0).len(0).len(1 << 50).Bytes(),
		"module of 2^40 strings":  newRDB(9).selectDB(0).raw(typeModule2).str("k").len(moduleID("mymodtype", 1)).len(moduleString).len(1 << 40).Bytes(),
		"AUX key of 2^32-1 bytes": newRDB(9).raw(opAux).len32(math.MaxUint32).Bytes(),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Copy(io_discard{}, bytes.NewReader(data))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Copy error %v, want ErrCorrupt", err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
				t.Errorf("Copy allocated %d bytes for a %d-byte input", grew, len(data))
			}
		})
	}
}

type io_discard struct{}

func (io_discard) Write(p []byte) (int, error) { return len(p), nil }
