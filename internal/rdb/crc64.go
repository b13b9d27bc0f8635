package rdb

import (
	"encoding/binary"
	"hash/crc64"
)

// jonesPoly is the reflected form of the CRC-64 "Jones" polynomial
// 0xad93d23594c935a9 that Redis uses for the RDB trailer (src/crc64.c).
const jonesPoly = 0x95AC9329AC4BC9B5

// crcTables holds slicing-by-16 tables derived from Go's hash/crc64 table.
// hash/crc64 itself only keeps slicing tables for the ECMA and ISO
// polynomials: for any other table it rebuilds a 16 KiB slicing table on
// every call of 2 KiB or more and goes byte by byte below that, which is
// slower than the network the verifier sits on.
var crcTables = makeCRCTables()

func makeCRCTables() *[16][256]uint64 {
	var t [16][256]uint64
	base := crc64.MakeTable(jonesPoly)
	t[0] = *base
	for i := range 256 {
		c := t[0][i]
		for j := 1; j < 16; j++ {
			c = t[0][byte(c)] ^ c>>8
			t[j][i] = c
		}
	}
	return &t
}

// CRC64 returns crc updated with p, using the CRC-64 Redis computes over an
// RDB: Jones polynomial, reflected, initial value 0 and no final xor. It is
// the running form: CRC64(CRC64(0, a), b) == CRC64(0, a+b). It equals
// ^crc64.Update(^crc, crc64.MakeTable(0x95AC9329AC4BC9B5), p).
func CRC64(crc uint64, p []byte) uint64 {
	t := crcTables
	for len(p) >= 16 {
		a := crc ^ binary.LittleEndian.Uint64(p)
		b := binary.LittleEndian.Uint64(p[8:])
		crc = t[15][byte(a)] ^ t[14][byte(a>>8)] ^ t[13][byte(a>>16)] ^ t[12][byte(a>>24)] ^
			t[11][byte(a>>32)] ^ t[10][byte(a>>40)] ^ t[9][byte(a>>48)] ^ t[8][byte(a>>56)] ^
			t[7][byte(b)] ^ t[6][byte(b>>8)] ^ t[5][byte(b>>16)] ^ t[4][byte(b>>24)] ^
			t[3][byte(b>>32)] ^ t[2][byte(b>>40)] ^ t[1][byte(b>>48)] ^ t[0][byte(b>>56)]
		p = p[16:]
	}
	for _, v := range p {
		crc = t[0][byte(crc)^v] ^ crc>>8
	}
	return crc
}
