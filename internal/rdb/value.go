package rdb

import "math"

// Value types (rdb.h RDB_TYPE_*).
const (
	typeString              = 0
	typeList                = 1
	typeSet                 = 2
	typeZset                = 3
	typeHash                = 4
	typeZset2               = 5
	typeModulePreGA         = 6
	typeModule2             = 7
	typeHashZipmap          = 9
	typeListZiplist         = 10
	typeSetIntset           = 11
	typeZsetZiplist         = 12
	typeHashZiplist         = 13
	typeListQuicklist       = 14
	typeStreamListpacks     = 15
	typeHashListpack        = 16
	typeZsetListpack        = 17
	typeListQuicklist2      = 18
	typeStreamListpacks2    = 19
	typeSetListpack         = 20
	typeStreamListpacks3    = 21
	typeHashMetadataPreGA   = 22
	typeHashListpackExPreGA = 23
	typeHashMetadata        = 24
	typeHashListpackEx      = 25
	typeStreamListpacks4    = 26
)

// Value types beyond what the sources here confirm: Redis 8.8 (RDB 14) and
// 8.10 (RDB 15) per their release notes, Valkey 9 (VALKEY080). Copy names
// them but does not guess their layouts: a file holding one is accepted on
// its CRC-64 alone (Info.Unparsed).
const (
	typeStreamListpacks5 = 27 // Redis RDB 14
	typeArray            = 28 // Redis RDB 14
	typeHashTmplFirst    = 29 // Redis RDB 15: 29..32 hash templates
	typeHashTmplLast     = 32
	typeValkeyHash2      = 22 // Valkey VALKEY080: hash with field TTLs
)

var typeNames = [...]string{
	"string", "list", "set", "zset", "hash", "zset-2", "module-pre-ga", "module-2", "",
	"hash-zipmap", "list-ziplist", "set-intset", "zset-ziplist", "hash-ziplist", "list-quicklist",
	"stream-listpacks", "hash-listpack", "zset-listpack", "list-quicklist-2", "stream-listpacks-2",
	"set-listpack", "stream-listpacks-3", "hash-metadata-pre-ga", "hash-listpack-ex-pre-ga",
	"hash-metadata", "hash-listpack-ex", "stream-listpacks-4",
	"stream-listpacks-5", "array", "hash-tmpl-lp", "hash-tmpl-lp-ref", "hash-tmpl-array", "hash-tmpl-array-ref",
}

func (p *parser) typeName(t byte) string {
	switch {
	case p.valkey && t == typeValkeyHash2:
		return "valkey-hash-2"
	case p.valkey && t > typeValkeyHash2:
		return "unknown"
	case int(t) < len(typeNames) && typeNames[t] != "":
		return typeNames[t]
	}
	return "unknown"
}

// checkType refuses a value type that no loader of the file's flavor
// accepts, or whose layout this package does not know. Like rdbLoad it
// accepts every type it knows in a file of any version.
func (p *parser) checkType(t byte) error {
	switch {
	case t == typeModulePreGA:
		return p.corrupt("module value of 4.0 release candidates, which no Redis release loads")
	case t == 8:
		return p.corrupt("unknown value type %d", t)
	case p.valkey && t == typeValkeyHash2:
		return p.corrupt("value type %d (Valkey hash-2) has a layout this rdbak does not parse", t)
	case p.valkey && t > typeStreamListpacks3:
		return p.corrupt("unknown value type %d for %s", t, MagicValkey)
	case t == opHashTemplates:
		return p.corrupt("opcode 0x%02x (Redis HASH_TEMPLATES, RDB 15) has a layout this rdbak does not parse", t)
	case t >= typeStreamListpacks5 && t <= typeHashTmplLast:
		return p.corrupt("value type %d (%s) has a layout this rdbak does not parse", t, p.typeName(t))
	case t > typeStreamListpacks4:
		return p.corrupt("unknown value type %d", t)
	}
	return nil
}

func opName(t byte) string {
	switch t {
	case opKeyMeta:
		return "KEY_META"
	case opSlotInfo:
		return "SLOT_INFO"
	case opFunction2:
		return "FUNCTION2"
	case opModuleAux:
		return "MODULE_AUX"
	case opIdle:
		return "IDLE"
	case opFreq:
		return "FREQ"
	case opAux:
		return "AUX"
	case opResizeDB:
		return "RESIZEDB"
	case opExpireMs:
		return "EXPIRETIME_MS"
	case opExpire:
		return "EXPIRETIME"
	case opSelectDB:
		return "SELECTDB"
	}
	return "EOF"
}

// skipValue consumes the value of a key of type t (rdbSaveObject).
func (p *parser) skipValue(t byte) error {
	switch t {
	case typeString, typeHashZipmap, typeListZiplist, typeSetIntset, typeZsetZiplist,
		typeHashZiplist, typeHashListpack, typeZsetListpack, typeSetListpack, typeHashListpackExPreGA:
		// A string, or a ziplist/listpack/intset/zipmap blob saved as one.
		_, err := p.skipString()
		return err
	case typeList, typeSet, typeListQuicklist:
		return p.skipItems(1, 0)
	case typeHash:
		return p.skipItems(2, 0)
	case typeZset2:
		return p.skipItems(1, 8) // member, binary double
	case typeZset:
		return p.skipZsetV1()
	case typeListQuicklist2:
		return p.skipQuicklist2()
	case typeModule2:
		id, err := p.length()
		if err != nil {
			return err
		}
		if err := p.addModule(id); err != nil {
			return err
		}
		return p.skipModuleItems()
	case typeHashMetadataPreGA:
		return p.skipHashTTL()
	case typeHashMetadata:
		if err := p.skip(8); err != nil { // minExpire
			return err
		}
		return p.skipHashTTL()
	case typeHashListpackEx:
		if err := p.skip(8); err != nil { // minExpire
			return err
		}
		_, err := p.skipString()
		return err
	}
	return p.skipStream(t)
}

// skipItems consumes a count n and n items of strs strings followed by raw
// fixed bytes.
func (p *parser) skipItems(strs int, raw uint64) error {
	n, err := p.length()
	if err != nil {
		return err
	}
	for range n {
		for range strs {
			if _, err := p.skipString(); err != nil {
				return err
			}
		}
		if raw > 0 {
			if err := p.skip(raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// skipZsetV1 consumes a type-3 sorted set: members with text doubles
// (one length byte; 253, 254, 255 stand for NaN, +inf, -inf alone).
func (p *parser) skipZsetV1() error {
	n, err := p.length()
	if err != nil {
		return err
	}
	for range n {
		if _, err := p.skipString(); err != nil {
			return err
		}
		l, err := p.byte()
		if err != nil {
			return err
		}
		if l < 253 {
			if err := p.skip(uint64(l)); err != nil {
				return err
			}
		}
	}
	return nil
}

// skipQuicklist2 consumes nodes of (container, blob); container 1 is a
// plain element, 2 a listpack (quicklist.h QUICKLIST_NODE_CONTAINER_*).
func (p *parser) skipQuicklist2() error {
	n, err := p.length()
	if err != nil {
		return err
	}
	for range n {
		c, err := p.length()
		if err != nil {
			return err
		}
		if c != 1 && c != 2 {
			return p.corrupt("quicklist node container %d, want 1 or 2", c)
		}
		if _, err := p.skipString(); err != nil {
			return err
		}
	}
	return nil
}

// skipHashTTL consumes a hash with field TTLs: (TTL, field, value) triples.
func (p *parser) skipHashTTL() error {
	n, err := p.length()
	if err != nil {
		return err
	}
	for range n {
		if _, err := p.length(); err != nil {
			return err
		}
		for range 2 {
			if _, err := p.skipString(); err != nil {
				return err
			}
		}
	}
	return nil
}

// streamIDLen is the size of a raw stream ID (two big-endian uint64).
const streamIDLen = 16

// skipStream consumes a stream of type 15 (v1), 19 (v2), 21 (v3) or 26 (v4).
func (p *parser) skipStream(t byte) error {
	v2, v3, v4 := t >= typeStreamListpacks2, t >= typeStreamListpacks3, t == typeStreamListpacks4
	nodes, err := p.length()
	if err != nil {
		return err
	}
	for range nodes {
		kl, err := p.skipString()
		if err != nil {
			return err
		}
		if kl != streamIDLen {
			return p.corrupt("stream node key of %d bytes, want %d", kl, streamIDLen)
		}
		if _, err := p.skipString(); err != nil {
			return err
		}
	}
	meta := 3 // length, last_id ms and seq
	if v2 {
		meta += 5 // first_id, max_deleted_entry_id, entries_added
	}
	if err := p.skipLengths(meta); err != nil {
		return err
	}
	groups, err := p.length()
	if err != nil {
		return err
	}
	for range groups {
		if err := p.skipGroup(v2, v3); err != nil {
			return err
		}
	}
	if v4 {
		return p.skipIdmp()
	}
	return nil
}

func (p *parser) skipGroup(v2, v3 bool) error {
	if _, err := p.skipString(); err != nil { // name
		return err
	}
	n := 2 // last_id
	if v2 {
		n++ // entries_read
	}
	if err := p.skipLengths(n); err != nil {
		return err
	}
	pel, err := p.length()
	if err != nil {
		return err
	}
	for range pel { // ID, delivery time, delivery count
		if err := p.skip(streamIDLen + 8); err != nil {
			return err
		}
		if _, err := p.length(); err != nil {
			return err
		}
	}
	consumers, err := p.length()
	if err != nil {
		return err
	}
	for range consumers {
		if _, err := p.skipString(); err != nil { // name
			return err
		}
		times := uint64(8) // seen_time
		if v3 {
			times += 8 // active_time
		}
		if err := p.skip(times); err != nil {
			return err
		}
		ids, err := p.length()
		if err != nil {
			return err
		}
		if ids > math.MaxUint64/streamIDLen {
			return p.corrupt("consumer PEL of %d entries", ids)
		}
		if err := p.skip(ids * streamIDLen); err != nil {
			return err
		}
	}
	return nil
}

// skipIdmp consumes the idempotent-producer tail of a v4 stream
// (rdbSaveStreamIdmpEntries).
func (p *parser) skipIdmp() error {
	if err := p.skipLengths(2); err != nil { // duration, max entries
		return err
	}
	producers, err := p.length()
	if err != nil {
		return err
	}
	for range producers {
		if _, err := p.skipString(); err != nil { // producer id
			return err
		}
		n, err := p.length()
		if err != nil {
			return err
		}
		for range n {
			if _, err := p.skipString(); err != nil { // iid
				return err
			}
			if err := p.skipLengths(2); err != nil { // stream ID
				return err
			}
		}
	}
	return p.skipLengths(2) // iids_added, iids_duplicates
}

// Module item opcodes (rdb.h RDB_MODULE_OPCODE_*).
const (
	moduleEOF    = 0
	moduleSint   = 1
	moduleUint   = 2
	moduleFloat  = 3
	moduleDouble = 4
	moduleString = 5
)

// skipModuleItems consumes module items up to and including the EOF item,
// as rdbLoadCheckModuleValue does without the module loaded.
func (p *parser) skipModuleItems() error {
	for {
		op, err := p.length()
		if err != nil {
			return err
		}
		switch op {
		case moduleEOF:
			return nil
		case moduleSint, moduleUint:
			_, err = p.length()
		case moduleFloat:
			err = p.skip(4)
		case moduleDouble:
			err = p.skip(8)
		case moduleString:
			_, err = p.skipString()
		default:
			return p.corrupt("unknown module item opcode %d", op)
		}
		if err != nil {
			return err
		}
	}
}

// moduleCharset is the alphabet of module type names (module.c).
const moduleCharset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// moduleName decodes the 9-character name from a 64-bit module type id:
// 9 × 6 bits, first character highest, above a 10-bit encoding version.
func moduleName(id uint64) string {
	var name [9]byte
	id >>= 10
	for j := 8; j >= 0; j-- {
		name[j] = moduleCharset[id&63]
		id >>= 6
	}
	return string(name[:])
}

func (p *parser) addModule(id uint64) error {
	name := moduleName(id)
	if p.mods[name] {
		return nil
	}
	if len(p.info.Modules) >= maxModules {
		return p.corrupt("more than %d module types", maxModules)
	}
	if p.mods == nil {
		p.mods = map[string]bool{}
	}
	p.mods[name] = true
	p.info.Modules = append(p.info.Modules, name)
	return nil
}
