package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// bufSize is the one buffer a Copy uses. It must exceed maxAuxLen plus a
// length prefix, because AUX strings are read whole from it.
const bufSize = 256 << 10

// maxEmptyReads bounds how often a source may return (0, nil) in a row
// before Copy gives up with io.ErrNoProgress.
const maxEmptyReads = 100

// errEndOfInput is read's error when the source has no more bytes; atEOF
// tells it apart from read and write failures.
var errEndOfInput = fmt.Errorf("truncated: %w", ErrCorrupt)

// trailerLen is the size of the CRC-64 trailer.
const trailerLen = 8

// stream reads the source through one fixed buffer. Every chunk is written
// to the destination as soon as it is read, so the copy never lags the
// parse by more than one buffer. Consumed bytes are folded into the CRC
// lazily, when the buffer is compacted, so a large value costs one CRC call
// per chunk and no per-byte work.
//
// The CRC covers every byte of the source except the last trailerLen read so
// far: at the end of the input it is the CRC of everything before the
// trailer, whether or not the parser understood the bytes. That is what lets
// Copy fall back to the checksum alone when the structure is beyond it.
type stream struct {
	src       io.Reader
	dst       io.Writer
	buf       []byte
	pos       int   // next unconsumed byte
	end       int   // end of the bytes read so far
	base      int64 // file offset of buf[0]
	crc       uint64
	crcFrom   int  // buf[crcFrom:] is not yet in crc; crcFrom <= pos
	lastInCRC byte // the last byte folded into crc
	srcErr    error
}

// offset is the file offset of the next unconsumed byte.
func (s *stream) offset() int64 { return s.base + int64(s.pos) }

func (s *stream) corrupt(format string, args ...any) error {
	return fmt.Errorf("%s at offset %d: %w", fmt.Sprintf(format, args...), s.offset(), ErrCorrupt)
}

// foldCRC adds the consumed bytes to the checksum, all but the last
// trailerLen bytes read.
func (s *stream) foldCRC() {
	upto := min(s.pos, s.end-trailerLen)
	if upto > s.crcFrom {
		s.crc = CRC64(s.crc, s.buf[s.crcFrom:upto])
		s.lastInCRC = s.buf[upto-1]
		s.crcFrom = upto
	}
}

// compact drops consumed bytes from the buffer, keeping those not yet in
// the checksum (at most trailerLen of them).
func (s *stream) compact() {
	s.foldCRC()
	keep := s.crcFrom
	n := copy(s.buf, s.buf[keep:s.end])
	s.base += int64(keep)
	s.end = n
	s.pos -= keep
	s.crcFrom = 0
}

// drain consumes the rest of the source and returns the CRC-64 of every byte
// before the last trailerLen, the byte just before them, and those last
// bytes read as a little-endian trailer. ok is false when the source holds
// fewer than trailerLen+1 bytes.
func (s *stream) drain() (crc uint64, last byte, trailer uint64, ok bool, err error) {
	for {
		s.pos = s.end
		s.compact()
		if err := s.read(); err != nil {
			if !errors.Is(err, errEndOfInput) {
				return 0, 0, 0, false, err
			}
			break
		}
	}
	s.foldCRC()
	if s.base+int64(s.end) <= trailerLen {
		return 0, 0, 0, false, nil
	}
	return s.crc, s.lastInCRC, binary.LittleEndian.Uint64(s.buf[s.end-trailerLen : s.end]), true, nil
}

// read appends at least one byte from the source to the buffer and copies
// it to the destination. The buffer must have room.
func (s *stream) read() error {
	for range maxEmptyReads {
		if s.srcErr != nil {
			if s.srcErr == io.EOF {
				return fmt.Errorf("input ends at offset %d: %w", s.base+int64(s.end), errEndOfInput)
			}
			return fmt.Errorf("read rdb at offset %d: %w", s.base+int64(s.end), s.srcErr)
		}
		n, err := s.src.Read(s.buf[s.end:])
		s.srcErr = err
		if n > 0 {
			if _, werr := s.dst.Write(s.buf[s.end : s.end+n]); werr != nil {
				return fmt.Errorf("copy rdb at offset %d: %w", s.base+int64(s.end), werr)
			}
			s.end += n
			return nil
		}
	}
	return fmt.Errorf("read rdb at offset %d: %w", s.base+int64(s.end), io.ErrNoProgress)
}

// fill makes at least n (≤ bufSize) unconsumed bytes available.
func (s *stream) fill(n int) error {
	if s.end-s.pos >= n {
		return nil
	}
	s.compact()
	for s.end-s.pos < n {
		if err := s.read(); err != nil {
			return err
		}
	}
	return nil
}

// atEOF reports whether every byte of the source has been consumed.
func (s *stream) atEOF() (bool, error) {
	if s.pos < s.end {
		return false, nil
	}
	s.compact()
	err := s.read()
	if err == nil {
		return false, nil
	}
	if errors.Is(err, errEndOfInput) {
		return true, nil
	}
	return false, err
}

// byte consumes one byte. It, lengthOrEncoding and skipString run a few
// times per key, so each keeps its common case apart from the refill path.
func (s *stream) byte() (byte, error) {
	if s.pos < s.end {
		b := s.buf[s.pos]
		s.pos++
		return b, nil
	}
	return s.byteSlow()
}

func (s *stream) byteSlow() (byte, error) {
	if err := s.fill(1); err != nil {
		return 0, err
	}
	b := s.buf[s.pos]
	s.pos++
	return b, nil
}

// next consumes n (≤ bufSize) bytes and returns them; the slice is valid
// until the next call on s.
func (s *stream) next(n int) ([]byte, error) {
	if err := s.fill(n); err != nil {
		return nil, err
	}
	p := s.buf[s.pos : s.pos+n]
	s.pos += n
	return p, nil
}

// skip consumes n bytes, streaming them through the buffer: a huge declared
// length costs no memory and ends in a truncation error at the source's end.
func (s *stream) skip(n uint64) error {
	for {
		if avail := uint64(s.end - s.pos); n <= avail {
			s.pos += int(n)
			return nil
		}
		n -= uint64(s.end - s.pos)
		s.pos = s.end
		s.compact()
		if err := s.read(); err != nil {
			return err
		}
	}
}

// Length encodings (rdbLoadLenByRef) and string encodings (RDB_ENC_*).
const (
	len32 = 0x80
	len64 = 0x81

	encInt8  = 0
	encInt16 = 1
	encInt32 = 2
	encLZF   = 3
)

// lengthOrEncoding reads a length; enc reports that the byte was instead a
// special string encoding, whose number is returned in v.
func (s *stream) lengthOrEncoding() (v uint64, enc bool, err error) {
	if s.pos < s.end {
		if b := s.buf[s.pos]; b < 0x40 || b >= 0xC0 {
			s.pos++
			return uint64(b & 0x3f), b >= 0xC0, nil
		}
	}
	return s.lengthOrEncodingSlow()
}

func (s *stream) lengthOrEncodingSlow() (v uint64, enc bool, err error) {
	b, err := s.byte()
	if err != nil {
		return 0, false, err
	}
	switch b >> 6 {
	case 0:
		return uint64(b), false, nil
	case 1:
		lo, err := s.byte()
		return uint64(b&0x3f)<<8 | uint64(lo), false, err
	case 3:
		return uint64(b & 0x3f), true, nil
	}
	switch {
	case b == len32:
		p, err := s.next(4)
		if err != nil {
			return 0, false, err
		}
		return uint64(binary.BigEndian.Uint32(p)), false, nil
	case b == len64:
		// Written from version 8 on, but rdbLoadLenByRef reads it in any
		// version, as this does.
		p, err := s.next(8)
		if err != nil {
			return 0, false, err
		}
		return binary.BigEndian.Uint64(p), false, nil
	}
	return 0, false, s.corrupt("unknown length encoding 0x%02x", b)
}

func (s *stream) length() (uint64, error) {
	v, enc, err := s.lengthOrEncoding()
	if err == nil && enc {
		return 0, s.corrupt("string encoding %d where a length belongs", v)
	}
	return v, err
}

// skipLengths consumes n lengths.
func (s *stream) skipLengths(n int) error {
	for range n {
		if _, err := s.length(); err != nil {
			return err
		}
	}
	return nil
}

// intString reads the payload of an integer-encoded string.
func (s *stream) intString(enc uint64) (int64, error) {
	switch enc {
	case encInt8:
		b, err := s.byte()
		return int64(int8(b)), err
	case encInt16:
		p, err := s.next(2)
		if err != nil {
			return 0, err
		}
		return int64(int16(binary.LittleEndian.Uint16(p))), nil
	default:
		p, err := s.next(4)
		if err != nil {
			return 0, err
		}
		return int64(int32(binary.LittleEndian.Uint32(p))), nil
	}
}

// decimalLen is len(strconv.FormatInt(n, 10)): the length Redis gives an
// integer-encoded string.
func decimalLen(n int64) uint64 {
	l, u := uint64(1), uint64(n)
	if n < 0 {
		l, u = 2, -u
	}
	for ; u >= 10; u /= 10 {
		l++
	}
	return l
}

// skipString consumes one string and returns its decoded length.
func (s *stream) skipString() (uint64, error) {
	// Fast path for the common short string held whole in the buffer.
	if s.pos < s.end {
		if b := s.buf[s.pos]; b < 0x40 && s.end-s.pos > int(b) {
			s.pos += 1 + int(b)
			return uint64(b), nil
		}
	}
	return s.skipStringSlow()
}

func (s *stream) skipStringSlow() (uint64, error) {
	v, enc, err := s.lengthOrEncoding()
	if err != nil {
		return 0, err
	}
	if !enc {
		return v, s.skip(v)
	}
	switch v {
	case encInt8, encInt16, encInt32:
		n, err := s.intString(v)
		return decimalLen(n), err
	case encLZF:
		clen, err := s.length()
		if err != nil {
			return 0, err
		}
		ulen, err := s.length()
		if err != nil {
			return 0, err
		}
		if !lzfLengths(clen, ulen) {
			return 0, s.corrupt("LZF string of %d bytes claims to expand to %d", clen, ulen)
		}
		return ulen, s.skip(clen)
	}
	return 0, s.corrupt("unknown string encoding %d", v)
}

// readString reads one string of at most limit (≤ maxAuxLen) decoded bytes,
// decoding integer and LZF forms to the text Redis would load.
func (s *stream) readString(limit uint64) (string, error) {
	v, enc, err := s.lengthOrEncoding()
	if err != nil {
		return "", err
	}
	if !enc {
		if v > limit {
			return "", s.corrupt("string of %d bytes, more than the %d this field may hold", v, limit)
		}
		p, err := s.next(int(v))
		return string(p), err
	}
	switch v {
	case encInt8, encInt16, encInt32:
		n, err := s.intString(v)
		return strconv.FormatInt(n, 10), err
	case encLZF:
		out, ulen, clen, err := s.lzfString(limit)
		if err == nil && out == nil {
			err = s.corrupt("compressed string of %d (%d) bytes, more than the %d this field may hold", ulen, clen, limit)
		}
		return string(out), err
	}
	return "", s.corrupt("unknown string encoding %d", v)
}

// lzfString reads the rest of an LZF-encoded string (after its encoding
// byte) and returns it decompressed when both its lengths are at most limit
// (≤ maxAuxLen); otherwise it returns nil with the lengths, leaving the
// clen payload bytes unread.
func (s *stream) lzfString(limit uint64) (out []byte, ulen, clen uint64, err error) {
	if clen, err = s.length(); err != nil {
		return nil, 0, 0, err
	}
	if ulen, err = s.length(); err != nil {
		return nil, 0, 0, err
	}
	if !lzfLengths(clen, ulen) {
		return nil, ulen, clen, s.corrupt("LZF string of %d bytes claims to expand to %d", clen, ulen)
	}
	if clen > limit || ulen > limit {
		return nil, ulen, clen, nil
	}
	p, err := s.next(int(clen))
	if err != nil {
		return nil, ulen, clen, err
	}
	if out, err = lzfDecompress(p, int(ulen)); err != nil {
		return nil, ulen, clen, s.corrupt("%v", err)
	}
	if out == nil {
		out = []byte{}
	}
	return out, ulen, clen, nil
}
