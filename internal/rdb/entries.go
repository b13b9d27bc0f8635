package rdb

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Entry is one key of an RDB file, as Entries hands it out: enough to send
// RESTORE key ttl payload REPLACE ABSTTL.
type Entry struct {
	DB  int
	Key []byte
	// ExpireMs is the absolute expiry in Unix milliseconds, 0 for none.
	ExpireMs int64
	// Value is the key's type byte followed by its value exactly as the
	// file encodes it: the body of a DUMP payload (see DumpPayload).
	Value []byte
	// Type names the value type, as Inspect does.
	Type string
}

// Function is a function library record (FUNCTION2): its code, as FUNCTION
// LOAD takes it.
type Function struct{ Code string }

// EntryFuncs receives what Entries reads. Slices in an Entry are valid only
// until the callback returns.
type EntryFuncs struct {
	Key      func(e *Entry) error
	Function func(f Function) error // nil: function records are skipped
}

// Entries reads one RDB file from r and hands every key to fn.Key as it goes:
// its db, name, expiry and value bytes, cut from the stream without
// decoding the value. It checks the file as Copy does, but strictly: a
// record it cannot parse is an error, never a checksum-only acceptance,
// because keys it cannot cut cannot be replayed. Keys reach fn before the
// trailer's CRC-64 is checked: verify the file first (Copy) when that
// matters.
//
// Memory: one buffer, plus the largest single key and value (a RESTORE
// payload is sent whole).
func Entries(r io.Reader, fn EntryFuncs) (Info, error) {
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	t := &tape{}
	p := &parser{
		stream: stream{src: r, dst: t, buf: *buf},
		info:   Info{Aux: map[string]string{}},
		dbIdx:  map[int]int{},
		cur:    -1,
		strict: true,
		walk:   &walker{tape: t, fn: fn},
	}
	err := p.run()
	p.info.Size = p.offset()
	return p.info, err
}

// walker is Entries' state in the parser.
type walker struct {
	tape  *tape
	fn    EntryFuncs
	entry Entry
}

// tape keeps the bytes the stream has read from a file offset on, so that
// a key's bytes can be cut out once the parser has found its end.
type tape struct {
	buf  []byte
	base int64 // file offset of buf[0]
}

func (t *tape) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	return len(p), nil
}

// trim drops the bytes before file offset off.
func (t *tape) trim(off int64) {
	n := int(off - t.base)
	if n <= 0 {
		return
	}
	if n >= len(t.buf) {
		t.base += int64(len(t.buf))
		t.buf = t.buf[:0]
		return
	}
	// Keep the capacity unless it grew far beyond what is left (a huge
	// value went by).
	rest := len(t.buf) - n
	if cap(t.buf) > 4*bufSize && rest < cap(t.buf)/4 {
		t.buf = append([]byte(nil), t.buf[n:]...)
	} else {
		t.buf = t.buf[:copy(t.buf, t.buf[n:])]
	}
	t.base = off
}

// span returns the bytes at file offsets [from, to).
func (t *tape) span(from, to int64) []byte { return t.buf[from-t.base : to-t.base] }

// walkKey hands the key at file offsets typeAt (its type byte), keyEnd (the
// end of its name) and the current offset (the end of its value) to fn.
func (p *parser) walkKey(typeAt, keyEnd int64, typ byte, expireMs int64) error {
	w := p.walk
	name, err := decodeString(w.tape.span(typeAt+1, keyEnd))
	if err != nil {
		return fmt.Errorf("decode key name: %w", err)
	}
	value := append(w.entry.Value[:0], typ)
	value = append(value, w.tape.span(keyEnd, p.offset())...)
	w.entry = Entry{DB: p.info.DBs[p.cur].Index, Key: name, ExpireMs: expireMs, Value: value, Type: p.typeName(typ)}
	if err := w.fn.Key(&w.entry); err != nil {
		return &callbackError{err}
	}
	return nil
}

// callbackError carries an error of an Entries callback through the parser
// unchanged.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// decodeString decodes one whole RDB string encoding held in b: a
// length-prefixed string, an integer, or LZF.
func decodeString(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("empty string encoding: %w", ErrCorrupt)
	}
	first := b[0]
	switch first >> 6 {
	case 0:
		return b[1:], nil
	case 1:
		return b[2:], nil
	case 2:
		if first == 0x80 {
			return b[5:], nil
		}
		return b[9:], nil
	}
	rest := b[1:]
	switch first & 0x3f {
	case encInt8:
		return fmt.Appendf(nil, "%d", int8(rest[0])), nil
	case encInt16:
		return fmt.Appendf(nil, "%d", int16(binary.LittleEndian.Uint16(rest))), nil
	case encInt32:
		return fmt.Appendf(nil, "%d", int32(binary.LittleEndian.Uint32(rest))), nil
	case encLZF:
		clen, n1, err := decodeLength(rest)
		if err != nil {
			return nil, err
		}
		ulen, n2, err := decodeLength(rest[n1:])
		if err != nil {
			return nil, err
		}
		in := rest[n1+n2:]
		if uint64(len(in)) != clen {
			return nil, fmt.Errorf("LZF string of %d bytes, %d present: %w", clen, len(in), ErrCorrupt)
		}
		if !lzfLengths(clen, ulen) {
			return nil, fmt.Errorf("LZF string of %d bytes claims to expand to %d: %w", clen, ulen, ErrCorrupt)
		}
		out, err := lzfDecompress(in, int(ulen))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", err, ErrCorrupt)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown string encoding %d: %w", first&0x3f, ErrCorrupt)
}

// decodeLength reads a plain length from b, returning it and its size.
func decodeLength(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("missing length: %w", ErrCorrupt)
	}
	switch b[0] >> 6 {
	case 0:
		return uint64(b[0] & 0x3f), 1, nil
	case 1:
		return uint64(b[0]&0x3f)<<8 | uint64(b[1]), 2, nil
	case 2:
		if b[0] == 0x80 {
			return uint64(binary.BigEndian.Uint32(b[1:5])), 5, nil
		}
		return binary.BigEndian.Uint64(b[1:9]), 9, nil
	}
	return 0, 0, fmt.Errorf("encoded length where a plain one belongs: %w", ErrCorrupt)
}

// DumpPayload appends to dst the DUMP payload of an Entry's Value for RDB
// version: the value, the version as 2 little-endian bytes, and the CRC-64
// of both, little-endian (createDumpPayload, verifyDumpPayload in Redis's
// src/cluster.c). RESTORE accepts it from a server whose RDB_VERSION is at
// least version.
func DumpPayload(dst, value []byte, version int) []byte {
	start := len(dst)
	dst = append(dst, value...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(version))
	crc := CRC64(0, dst[start:])
	return binary.LittleEndian.AppendUint64(dst, crc)
}
