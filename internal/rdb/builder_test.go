package rdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// builder writes RDB files by hand, for layouts the local redis-server
// cannot produce (older and newer versions, modules, hand-picked encodings).
type builder struct {
	bytes.Buffer
	version int
}

func newRDB(version int) *builder {
	b := &builder{version: version}
	fmt.Fprintf(b, "REDIS%04d", version)
	return b
}

// newValkeyRDB starts a file with Valkey's VALKEY magic and a 3-digit version.
func newValkeyRDB(version int) *builder {
	b := &builder{version: version}
	fmt.Fprintf(b, "VALKEY%03d", version)
	return b
}

func (b *builder) raw(p ...byte) *builder { b.Write(p); return b }

// len writes n in the shortest length form, as rdbSaveLen does.
func (b *builder) len(n uint64) *builder {
	switch {
	case n < 1<<6:
		b.WriteByte(byte(n))
	case n < 1<<14:
		b.raw(0x40|byte(n>>8), byte(n))
	case n <= 1<<32-1:
		b.len32(uint32(n))
	default:
		b.WriteByte(len64)
		b.Write(binary.BigEndian.AppendUint64(nil, n))
	}
	return b
}

func (b *builder) len32(n uint32) *builder {
	b.WriteByte(len32)
	b.Write(binary.BigEndian.AppendUint32(nil, n))
	return b
}

func (b *builder) str(s string) *builder {
	b.len(uint64(len(s)))
	b.WriteString(s)
	return b
}

// lzf writes an LZF-encoded string of compressed data c expanding to n bytes.
func (b *builder) lzf(c []byte, n int) *builder {
	b.raw(0xC0 | encLZF)
	b.len(uint64(len(c))).len(uint64(n))
	b.Write(c)
	return b
}

func (b *builder) int8(v int8) *builder { return b.raw(0xC0|encInt8, byte(v)) }
func (b *builder) int16(v int16) *builder {
	return b.raw(0xC0|encInt16, byte(v), byte(uint16(v)>>8))
}
func (b *builder) int32(v int32) *builder {
	b.WriteByte(0xC0 | encInt32)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(v)))
	return b
}

func (b *builder) aux(k, v string) *builder { return b.raw(opAux).str(k).str(v) }
func (b *builder) selectDB(i int) *builder  { return b.raw(opSelectDB).len(uint64(i)) }
func (b *builder) resize(k, e int) *builder { return b.raw(opResizeDB).len(uint64(k)).len(uint64(e)) }
func (b *builder) le64(v uint64) *builder {
	b.Write(binary.LittleEndian.AppendUint64(nil, v))
	return b
}
func (b *builder) expireMs(ms int64) *builder { return b.raw(opExpireMs).le64(uint64(ms)) }

// expireMsBE writes the expire as a big-endian host wrote it before RDB 9.
func (b *builder) expireMsBE(ms int64) *builder {
	b.WriteByte(opExpireMs)
	b.Write(binary.BigEndian.AppendUint64(nil, uint64(ms)))
	return b
}

func (b *builder) expireSec(sec int32) *builder {
	b.WriteByte(opExpire)
	b.Write(binary.LittleEndian.AppendUint32(nil, uint32(sec)))
	return b
}

func (b *builder) set(key, val string) *builder { return b.raw(typeString).str(key).str(val) }

// moduleID encodes a module type name and encoding version as module.c does.
func moduleID(name string, ver uint64) uint64 {
	var id uint64
	for i := range 9 {
		id = id<<6 | uint64(bytes.IndexByte([]byte(moduleCharset), name[i]))
	}
	return id<<10 | ver
}

// moduleItems writes one item of every kind and the module EOF.
func (b *builder) moduleItems() *builder {
	b.len(moduleUint).len(1 << 40)
	b.len(moduleSint).len(7)
	b.len(moduleFloat).raw(0, 0, 0x80, 0x3f)
	b.len(moduleDouble).le64(0x3ff0000000000000)
	b.len(moduleString).str("module payload")
	return b.len(moduleEOF)
}

// end writes EOF and, from version 5, the checksum (0 when !checksum).
func (b *builder) end(checksum bool) []byte {
	b.WriteByte(opEOF)
	if b.version >= 5 {
		var sum uint64
		if checksum {
			sum = CRC64(0, b.Bytes())
		}
		b.le64(sum)
	}
	return bytes.Clone(b.Bytes())
}
