package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Sentinel errors Copy wraps. Either one means the bytes already written to
// the destination must be discarded.
var (
	// ErrCorrupt: the input is not a complete, well-formed RDB file
	// (truncated, bad magic, unknown opcode or type, CRC mismatch, bytes
	// after the trailer).
	ErrCorrupt = errors.New("rdb corrupt")
	// ErrUnsupportedVersion: the header names an RDB version newer than
	// MaxVersion, whose layout this package has not been checked against.
	ErrUnsupportedVersion = errors.New("unsupported rdb version")
)

// MaxVersion is the newest RDB version Copy parses (13, Redis 8.6). Later
// versions add types whose layouts are not confirmed in Redis sources.
const MaxVersion = 13

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
	Version int               // RDB version from the REDIS00NN header
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
func Copy(w io.Writer, r io.Reader) (Info, error) {
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	p := &parser{
		stream: stream{src: r, dst: w, buf: *buf, crcOn: true},
		info:   Info{Aux: map[string]string{}},
		dbIdx:  map[int]int{},
		cur:    -1,
	}
	err := p.run()
	p.info.Size = p.offset()
	return p.info, err
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

// opcodeSince is the first RDB version of each opcode; the writer of an
// older file cannot have produced it, so it marks corruption there.
var opcodeSince = [256]int{
	opKeyMeta: 13, opSlotInfo: 12, opFunction2: 10, opModuleAux: 9, opIdle: 9, opFreq: 9,
	opAux: 7, opResizeDB: 7, opExpireMs: 3, opExpire: 1, opSelectDB: 1, opEOF: 1,
}

type parser struct {
	stream
	info  Info
	dbIdx map[int]int // DB index -> position in info.DBs
	cur   int         // position of the current DB in info.DBs, -1 before any
	mods  map[string]bool
}

// keyPrefix records the per-key opcodes seen since the last key.
type keyPrefix struct {
	expire bool
	any    bool
	meta   bool // KEY_META came last: the loader reads the type right after it
	name   string
}

func (p *parser) run() error {
	if err := p.header(); err != nil {
		return err
	}
	var pre keyPrefix
	for {
		start := p.offset()
		t, err := p.byte()
		if err != nil {
			return fmt.Errorf("read opcode: %w", err)
		}
		if t < opKeyMeta {
			if err := p.keyValue(t, pre.expire); err != nil {
				return fmt.Errorf("read key of type %d (%s) at offset %d: %w", t, typeName(t), start, err)
			}
			pre = keyPrefix{}
			continue
		}
		if since := opcodeSince[t]; since == 0 || p.version < since {
			if t == opFunctionPreGA {
				return p.corrupt("opcode 0x%02x (function data of 7.0 release candidates, which no Redis release loads)", t)
			}
			return p.corrupt("opcode 0x%02x not defined in RDB version %d", t, p.version)
		}
		if pre.meta {
			return p.corrupt("KEY_META followed by opcode 0x%02x instead of a value type", t)
		}
		switch t {
		case opExpire, opExpireMs, opIdle, opFreq, opKeyMeta:
			err = p.keyOpcode(t)
			pre = keyPrefix{expire: pre.expire || t == opExpire || t == opExpireMs, any: true, meta: t == opKeyMeta, name: opName(t)}
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

func (p *parser) header() error {
	h, err := p.next(9)
	if err != nil {
		return fmt.Errorf("read header: %w", err)
	}
	if !bytes.HasPrefix(h, []byte("REDIS")) {
		return fmt.Errorf("read header: magic %q is not REDIS: %w", h[:5], ErrCorrupt)
	}
	v := 0
	for _, c := range h[5:] {
		if c < '0' || c > '9' {
			return fmt.Errorf("read header: version %q is not 4 digits: %w", h[5:], ErrCorrupt)
		}
		v = v*10 + int(c-'0')
	}
	p.version, p.info.Version = v, v
	switch {
	case v == 0:
		return fmt.Errorf("read header: version 0 does not exist: %w", ErrCorrupt)
	case v > MaxVersion:
		return fmt.Errorf("read header: RDB version %d is newer than the %d this build parses: %w", v, MaxVersion, ErrUnsupportedVersion)
	}
	return nil
}

// keyOpcode consumes an opcode that describes the key that follows it.
func (p *parser) keyOpcode(t byte) error {
	switch t {
	case opExpire:
		return p.skip(4)
	case opExpireMs:
		// Little-endian from version 9, host order before: same 8 bytes.
		return p.skip(8)
	case opIdle:
		_, err := p.length()
		return err
	case opFreq:
		return p.skip(1)
	}
	// KEY_META: a class count, then per class a 4-byte class spec and a
	// module-style item list (src/keymeta.c rdbSaveKeyMetadata).
	n, err := p.length()
	for i := uint64(0); err == nil && i < n; i++ {
		if err = p.skip(4); err == nil {
			err = p.skipModuleItems()
		}
	}
	return err
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
		_, err := p.skipString()
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
func (p *parser) keyValue(t byte, expire bool) error {
	if since := typeSince[t]; since == 0 || p.version < since {
		if t == typeModulePreGA {
			return p.corrupt("module value of 4.0 release candidates, which no Redis release loads")
		}
		if since == 0 {
			return p.corrupt("unknown value type %d", t)
		}
		return p.corrupt("value type %d not defined in RDB version %d", t, p.version)
	}
	if p.cur < 0 { // keys before any SELECTDB load into DB 0
		if err := p.selectDB(0); err != nil {
			return err
		}
	}
	if _, err := p.skipString(); err != nil {
		return fmt.Errorf("read key name: %w", err)
	}
	if err := p.skipValue(t); err != nil {
		return err
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
	p.foldCRC()
	p.crcOn = false
	if p.version >= 5 {
		b, err := p.next(8)
		if err != nil {
			return fmt.Errorf("read checksum: %w", err)
		}
		stored := binary.LittleEndian.Uint64(b)
		p.info.Checksum = stored
		if stored != 0 {
			if stored != p.crc {
				return p.corrupt("checksum mismatch: stored %016x, computed %016x", stored, p.crc)
			}
			p.info.ChecksumVerified = true
		}
	}
	end := p.offset()
	eof, err := p.atEOF()
	if err != nil {
		return fmt.Errorf("read past the trailer: %w", err)
	}
	if !eof {
		return fmt.Errorf("trailing bytes after the end of the rdb at offset %d: %w", end, ErrCorrupt)
	}
	return nil
}
