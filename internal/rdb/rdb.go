package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sentinel errors Copy wraps. Either one means the bytes already written to
// the destination must be discarded.
var (
	// ErrCorrupt: the input is not a complete, well-formed RDB file
	// (truncated, CRC mismatch, bytes after the trailer, or a structure
	// this package cannot parse in a file with no checksum to vouch for it).
	ErrCorrupt = errors.New("rdb corrupt")
	// ErrUnsupportedVersion: the header names a magic or version this
	// package does not parse, and the file has no checksum to verify it by.
	ErrUnsupportedVersion = errors.New("unsupported rdb version")
)

// Versions Copy parses: Redis's REDIS0001 to REDIS0015 (Redis 8.10) and
// Valkey's VALKEY080 and VALKEY081 (Valkey 9.0, 9.2). Other files are only
// checked against their CRC-64 trailer (see Info.Unparsed).
const (
	MaxVersion       = 15
	MinValkeyVersion = 80
	MaxValkeyVersion = 81
)

// Magics at the start of an RDB file.
const (
	MagicRedis  = "REDIS"
	MagicValkey = "VALKEY"
)

// Parses names the formats this build parses, for messages that tell an
// operator to upgrade rdbak.
const Parses = "REDIS0001..0015, VALKEY080..081"

// StructureVerified is Info.Structure for a file whose every record was
// parsed.
const StructureVerified = "verified"

// Limits that keep memory bounded on hostile input. Redis writes a handful
// of short AUX fields, one entry per module type and one per non-empty DB,
// far below these.
const (
	maxAuxLen    = 64 << 10
	maxAuxFields = 1024
	maxModules   = 1024
	maxDBs       = 1 << 16
)

// Info is what Copy learned about one RDB file.
type Info struct {
	Magic   string            // MagicRedis or MagicValkey; "" when the header is neither
	Version int               // RDB version from the header (0 with an unknown magic)
	Aux     map[string]string // every AUX field, value as the text Redis would load
	DBs     []DB              // each DB that has keys or a SELECTDB, in file order
	Modules []string          // distinct module type names from MODULE_2 values and MODULE_AUX, first seen first
	// Functions counts FUNCTION2 records (one per function library).
	Functions int
	// Checksum is the stored CRC-64 trailer; 0 means the writer had
	// rdbchecksum off, or the version (< 5) has no trailer.
	Checksum         uint64
	ChecksumVerified bool  // the trailer was non-zero and matched
	Size             int64 // bytes consumed, trailer included
	// Unparsed is why the structure was not parsed, "" when it was: a
	// version or magic this build does not know, or a record it could not
	// parse. Copy then accepted the file on its CRC-64 alone (the trailer
	// matched the whole stream, which ends in EOF), and DBs, Modules and
	// Functions are left empty since their counts would be partial.
	Unparsed string
}

// Structure is StructureVerified, or "not-parsed: " and the reason.
func (i Info) Structure() string {
	if i.Unparsed == "" {
		return StructureVerified
	}
	return "not-parsed: " + i.Unparsed
}

// DB describes one database of the file.
type DB struct {
	Index         int
	ResizeKeys    uint64 // RESIZEDB hint: keys in the DB when it was saved
	ResizeExpires uint64 // RESIZEDB hint: keys with an expire
	Keys          uint64 // keys counted while parsing
	Expires       uint64 // keys counted with an EXPIRETIME or EXPIRETIME_MS
}

// KeysTotal is the number of keys in all DBs.
func (i Info) KeysTotal() uint64 {
	var n uint64
	for _, d := range i.DBs {
		n += d.Keys
	}
	return n
}

// ExpiresTotal is the number of keys with an expire in all DBs.
func (i Info) ExpiresTotal() uint64 {
	var n uint64
	for _, d := range i.DBs {
		n += d.Expires
	}
	return n
}

// RedisVersion is the redis-ver AUX field ("" before RDB 7).
func (i Info) RedisVersion() string { return i.Aux["redis-ver"] }

// CTime is the creation time from the ctime AUX field.
func (i Info) CTime() (time.Time, bool) {
	sec, err := strconv.ParseInt(i.Aux["ctime"], 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, 0), true
}

// AOFBase reports whether the file is an AOF base or preamble (AUX aof-base,
// called aof-preamble up to 6.2).
func (i Info) AOFBase() bool { return i.Aux["aof-base"] == "1" || i.Aux["aof-preamble"] == "1" }

// Copy reads one RDB file from r, writes every byte it reads to w as it
// goes, and parses the stream on the way to learn its shape and check its
// CRC-64. It is meant to sit inline in a backup or restore pipeline, so it
// holds one fixed buffer whatever the value sizes.
//
// Bytes reach w before the parser has judged them: a non-nil error means
// the copy must be discarded. Errors wrap ErrCorrupt or
// ErrUnsupportedVersion, or else come from r or w. Copy reads r to its end
// (to detect trailing bytes), so r must deliver exactly one RDB file. On
// error the Info describes what was parsed before the failure.
//
// The CRC-64 that Redis wrote over its own bytes is the authority on
// integrity. When the header names a version or magic this build does not
// parse, or the parser meets a record it cannot parse, Copy reads on and
// accepts the file if its last 8 bytes are a non-zero CRC-64 of everything
// before them and the byte before them is EOF; Info.Unparsed then says why
// the structure was not checked. Without a checksum (rdbchecksum no, or a
// version before 5) the parse is the only check and stays strict.
func Copy(w io.Writer, r io.Reader) (Info, error) {
	return parse(w, r, nil)
}

// parse runs the parser over r, copying to w, with obs (if any) told of
// every key.
func parse(w io.Writer, r io.Reader, obs *observer) (Info, error) {
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	p := &parser{
		stream: stream{src: r, dst: w, buf: *buf},
		info:   Info{Aux: map[string]string{}},
		dbIdx:  map[int]int{},
		cur:    -1,
		obs:    obs,
	}
	err := p.run()
	if err != nil && p.mayFallBack(err) {
		err = p.checksumOnly(err)
	}
	p.info.Size = p.offset()
	return p.info, err
}

// mayFallBack reports whether err is the parser's own verdict on bytes the
// CRC-64 may still vouch for: not an I/O error, not a bad trailer, not a
// header that claims to be Redis's but is malformed, not a file that has no
// checksum by its version.
func (p *parser) mayFallBack(err error) bool {
	return !p.strict && (errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupportedVersion))
}

// checksumOnly reads the rest of the input and accepts the file on its
// CRC-64 trailer alone, recording perr as the reason the structure was not
// parsed. It returns perr when there is no checksum to go by.
func (p *parser) checksumOnly(perr error) error {
	crc, last, stored, ok, err := p.drain()
	if err != nil {
		return err
	}
	reason := strings.TrimSuffix(strings.TrimSuffix(perr.Error(), ": "+ErrCorrupt.Error()), ": "+ErrUnsupportedVersion.Error())
	switch {
	case !ok:
		return perr
	case stored == 0 && errors.Is(perr, ErrUnsupportedVersion):
		return fmt.Errorf("%s, and its trailer is 0 (written with rdbchecksum no), so nothing can verify it: %w", reason, ErrUnsupportedVersion)
	case stored == 0:
		return perr
	case (last != opEOF || stored != crc) && errors.Is(perr, errEndOfInput):
		return perr
	case last != opEOF || stored != crc:
		return fmt.Errorf("%s, and the file does not end in EOF and a matching CRC-64 either (trailer %016x, computed %016x): %w",
			reason, stored, crc, ErrCorrupt)
	}
	p.info.Checksum, p.info.ChecksumVerified, p.info.Unparsed = stored, true, reason
	p.info.DBs, p.info.Modules, p.info.Functions = nil, nil, 0
	return nil
}

// bufPool recycles Copy buffers: a verifier runs once per backup, but
// tests and fuzzing call it in tight loops.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, bufSize)
	return &b
}}

// Opcodes (rdb.h RDB_OPCODE_*).
const (
	opKeyMeta       = 0xF3
	opSlotInfo      = 0xF4
	opFunction2     = 0xF5
	opFunctionPreGA = 0xF6
	opModuleAux     = 0xF7
	opIdle          = 0xF8
	opFreq          = 0xF9
	opAux           = 0xFA
	opResizeDB      = 0xFB
	opExpireMs      = 0xFC
	opExpire        = 0xFD
	opSelectDB      = 0xFE
	opEOF           = 0xFF
)

// Opcodes of one flavor only, on the byte values above.
const (
	opHashTemplates = 0xF2 // Redis RDB 15; layout not confirmed in sources here
	opSlotImport    = 0xF3 // Valkey 9 (VALKEY080); Redis's KEY_META
)

type parser struct {
	stream
	info    Info
	version int
	valkey  bool        // VALKEY magic: numbers 22, 23 and 243 mean Valkey's types
	strict  bool        // an error now is final: no checksum-only fallback
	dbIdx   map[int]int // DB index -> position in info.DBs
	cur     int         // position of the current DB in info.DBs, -1 before any
	mods    map[string]bool
	obs     *observer // Inspect's per-key statistics; nil for Copy
	walk    *walker   // Walk's key callback; nil for Copy and Inspect
}

// keyPrefix records the per-key opcodes seen since the last key.
type keyPrefix struct {
	expire bool
	// expireMs is the key's expire time (Unix ms) when expire is set.
	expireMs int64
	any      bool
	meta     bool // KEY_META came last: the loader reads the type right after it
	name     string
}

func (p *parser) run() error {
	if err := p.header(); err != nil {
		return err
	}
	var pre keyPrefix
	for {
		start := p.offset()
		if p.walk != nil {
			p.walk.tape.trim(start)
		}
		t, err := p.byte()
		if err != nil {
			return fmt.Errorf("read opcode: %w", err)
		}
		if t < opKeyMeta {
			if err := p.keyValue(t, pre.expire, pre.expireMs); err != nil {
				return fmt.Errorf("read key of type %d (%s) at offset %d: %w", t, p.typeName(t), start, err)
			}
			pre = keyPrefix{}
			continue
		}
		// rdbLoad accepts every opcode it knows in a file of any version it
		// loads, so there is no per-version gating here.
		switch {
		case t == opFunctionPreGA:
			return p.corrupt("opcode 0x%02x (function data of 7.0 release candidates, which no Redis release loads)", t)
		case t == opSlotImport && p.valkey:
			return p.corrupt("opcode 0x%02x (Valkey SLOT_IMPORT) has a layout this rdbak does not parse", t)
		}
		if pre.meta {
			return p.corrupt("KEY_META followed by opcode 0x%02x instead of a value type", t)
		}
		switch t {
		case opExpire, opExpireMs, opIdle, opFreq, opKeyMeta:
			var ms int64
			ms, err = p.keyOpcode(t)
			next := keyPrefix{expire: pre.expire, expireMs: pre.expireMs, any: true, meta: t == opKeyMeta, name: opName(t)}
			if t == opExpire || t == opExpireMs {
				next.expire, next.expireMs = true, ms
			}
			pre = next
		default:
			if pre.any {
				return p.corrupt("%s not followed by a key", pre.name)
			}
			if t == opEOF {
				return p.trailer()
			}
			err = p.record(t)
		}
		if err != nil {
			return fmt.Errorf("read %s at offset %d: %w", opName(t), start, err)
		}
	}
}

// header reads the 9-byte magic and version: REDIS and 4 digits, or VALKEY
// and 3 digits.
func (p *parser) header() error {
	h, err := p.next(9)
	if err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	var digits []byte
	switch {
	case bytes.HasPrefix(h, []byte(MagicRedis)):
		p.info.Magic, digits = MagicRedis, h[len(MagicRedis):]
	case bytes.HasPrefix(h, []byte(MagicValkey)):
		p.info.Magic, digits, p.valkey = MagicValkey, h[len(MagicValkey):], true
	default:
		return fmt.Errorf("header %q starts with neither %s nor %s, a format this rdbak does not know: %w",
			h, MagicRedis, MagicValkey, ErrUnsupportedVersion)
	}
	v := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			p.strict = true
			return fmt.Errorf("read header: version %q is not %d digits: %w", digits, len(digits), ErrCorrupt)
		}
		v = v*10 + int(c-'0')
	}
	p.version, p.info.Version = v, v
	switch {
	case v == 0:
		p.strict = true
		return fmt.Errorf("read header: version 0 does not exist: %w", ErrCorrupt)
	case !p.valkey && v > MaxVersion:
		return fmt.Errorf("RDB version %d is newer than this rdbak (%s 1..%d known): %w", v, MagicRedis, MaxVersion, ErrUnsupportedVersion)
	case p.valkey && (v < MinValkeyVersion || v > MaxValkeyVersion):
		return fmt.Errorf("RDB version %s%03d is not one this rdbak knows (%s%03d..%03d): %w",
			MagicValkey, v, MagicValkey, MinValkeyVersion, MaxValkeyVersion, ErrUnsupportedVersion)
	case !p.valkey && v < 5:
		p.strict = true // no checksum: the parse is the only check
	}
	return nil
}

// keyOpcode consumes an opcode that describes the key that follows it,
// returning the expire time in Unix ms for the expire opcodes.
func (p *parser) keyOpcode(t byte) (int64, error) {
	switch t {
	case opExpire:
		b, err := p.next(4)
		if err != nil {
			return 0, err
		}
		return int64(int32(binary.LittleEndian.Uint32(b))) * 1000, nil
	case opExpireMs:
		// Little-endian from version 9, host order before: the same bytes
		// on the little-endian hosts Redis runs on.
		b, err := p.next(8)
		if err != nil {
			return 0, err
		}
		return int64(binary.LittleEndian.Uint64(b)), nil
	case opIdle:
		_, err := p.length()
		return 0, err
	case opFreq:
		return 0, p.skip(1)
	}
	if p.walk != nil {
		return 0, p.corrupt("KEY_META (key metadata, Redis 8.6+) cannot be replayed by this rdbak")
	}
	// KEY_META: a class count, then per class a 4-byte class spec and a
	// module-style item list (src/keymeta.c rdbSaveKeyMetadata).
	n, err := p.length()
	for i := uint64(0); err == nil && i < n; i++ {
		if err = p.skip(4); err == nil {
			err = p.skipModuleItems()
		}
	}
	return 0, err
}

// record consumes an opcode that stands on its own.
func (p *parser) record(t byte) error {
	switch t {
	case opSelectDB:
		idx, err := p.length()
		if err != nil {
			return err
		}
		if idx > 1<<31-1 {
			return p.corrupt("db index %d out of range", idx)
		}
		return p.selectDB(int(idx))
	case opResizeDB:
		keys, err := p.length()
		if err != nil {
			return err
		}
		expires, err := p.length()
		if err != nil {
			return err
		}
		if p.cur < 0 {
			return p.corrupt("RESIZEDB before SELECTDB")
		}
		p.info.DBs[p.cur].ResizeKeys, p.info.DBs[p.cur].ResizeExpires = keys, expires
		return nil
	case opAux:
		k, err := p.readString(maxAuxLen)
		if err != nil {
			return err
		}
		v, err := p.readString(maxAuxLen)
		if err != nil {
			return err
		}
		if _, ok := p.info.Aux[k]; !ok && len(p.info.Aux) >= maxAuxFields {
			return p.corrupt("more than %d AUX fields", maxAuxFields)
		}
		p.info.Aux[k] = v
		return nil
	case opModuleAux:
		id, err := p.length()
		if err != nil {
			return err
		}
		if err := p.addModule(id); err != nil {
			return err
		}
		whenOp, err := p.length()
		if err != nil {
			return err
		}
		if whenOp != moduleUint {
			return p.corrupt("module aux when-opcode %d, want %d", whenOp, moduleUint)
		}
		if _, err := p.length(); err != nil {
			return err
		}
		return p.skipModuleItems()
	case opFunction2:
		p.info.Functions++
		start := p.offset()
		_, err := p.skipString()
		if err == nil && p.walk != nil && p.walk.fn.Function != nil {
			var code []byte
			if code, err = decodeString(p.walk.tape.span(start, p.offset())); err == nil {
				if err = p.walk.fn.Function(Function{Code: string(code)}); err != nil {
					err = &callbackError{err}
				}
			}
		}
		return err
	case opSlotInfo:
		return p.skipLengths(3)
	}
	return p.corrupt("opcode 0x%02x", t) // unreachable: run checks opcodeSince
}

func (p *parser) selectDB(idx int) error {
	if i, ok := p.dbIdx[idx]; ok {
		p.cur = i
		return nil
	}
	if len(p.info.DBs) >= maxDBs {
		return p.corrupt("more than %d databases", maxDBs)
	}
	p.dbIdx[idx] = len(p.info.DBs)
	p.cur = len(p.info.DBs)
	p.info.DBs = append(p.info.DBs, DB{Index: idx})
	return nil
}

// keyValue consumes a key of type t and its value.
func (p *parser) keyValue(t byte, expire bool, expireMs int64) error {
	if err := p.checkType(t); err != nil {
		return err
	}
	if p.cur < 0 { // keys before any SELECTDB load into DB 0
		if err := p.selectDB(0); err != nil {
			return err
		}
	}
	start := p.offset() - 1 // the type byte
	var name string
	var err error
	if p.obs != nil && p.obs.names {
		name, err = p.keyName()
	} else {
		_, err = p.skipString()
	}
	if err != nil {
		return fmt.Errorf("read key name: %w", err)
	}
	keyEnd := p.offset()
	if err := p.skipValue(t); err != nil {
		return err
	}
	if p.walk != nil {
		ms := expireMs
		if !expire {
			ms = 0
		}
		if err := p.walkKey(start, keyEnd, t, ms); err != nil {
			return err
		}
	}
	if p.obs != nil {
		if !expire {
			expireMs = 0
		}
		p.obs.key(p.info.DBs[p.cur].Index, name, p.typeName(t), p.offset()-start, expireMs)
	}
	db := &p.info.DBs[p.cur]
	db.Keys++
	if expire {
		db.Expires++
	}
	return nil
}

// trailer handles what follows the EOF opcode: the checksum (version ≥ 5),
// then nothing at all.
func (p *parser) trailer() error {
	p.strict = true // from here on only the trailer is judged
	if p.valkey || p.version >= 5 {
		b, err := p.next(8)
		if err != nil {
			return fmt.Errorf("read checksum: %w", err)
		}
		stored := binary.LittleEndian.Uint64(b)
		p.info.Checksum = stored
	}
	end := p.offset()
	eof, err := p.atEOF()
	if err != nil {
		return fmt.Errorf("read past the trailer: %w", err)
	}
	if !eof {
		return fmt.Errorf("trailing bytes after the end of the rdb at offset %d: %w", end, ErrCorrupt)
	}
	// At the end of the input the running CRC covers all but the 8
	// trailer bytes: exactly the bytes up to and including EOF.
	if stored := p.info.Checksum; stored != 0 {
		p.foldCRC()
		if stored != p.crc {
			return fmt.Errorf("checksum mismatch: stored %016x, computed %016x: %w", stored, p.crc, ErrCorrupt)
		}
		p.info.ChecksumVerified = true
	}
	return nil
}
