package rdb

import (
	"encoding/binary"
	"hash/crc64"
	"math/bits"
)

// jonesPoly is the reflected form of the CRC-64 "Jones" polynomial
// 0xad93d23594c935a9 that Redis uses for the RDB trailer (src/crc64.c).
const jonesPoly = 0x95AC9329AC4BC9B5

// crcTables holds slicing-by-16 tables derived from Go's hash/crc64 table.
// hash/crc64 itself only keeps slicing tables for the ECMA and ISO
// polynomials: for any other table it rebuilds a 16 KiB slicing table on
// every call of 2 KiB or more and goes byte by byte below that, which is
// slower than the network the verifier sits on. CRC64 uses them for what
// carry-less multiplication does not take: the tail of a buffer, and CPUs
// without PCLMULQDQ.
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
	if n := len(p) &^ (foldBlock - 1); useCLMUL && n > 0 {
		crc = crc64CLMUL(crc, p[:n], &clmulJones)
		p = p[n:]
	}
	return crc64Slicing(crc, p)
}

// crc64Slicing is CRC64 with the slicing-by-16 tables, for any length.
func crc64Slicing(crc uint64, p []byte) uint64 {
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

// foldBlock is what crc64CLMUL takes at a time: eight 16-byte lanes.
const foldBlock = 128

// clmulJones holds the constants crc64CLMUL needs for the Jones polynomial.
var clmulJones = clmulConstants(jonesPoly)

// clmulConstants computes the folding and Barrett reduction constants of
// carry-less multiplication CRC (Intel, "Fast CRC Computation for Generic
// Polynomials Using PCLMULQDQ Instruction", 2009), for the reflected
// polynomial poly, in the order crc64CLMUL loads them: a pair for each
// distance a lane is folded forward, {x^(d+63) mod P, x^(d-1) mod P}
// bit-reflected, for d = 1024 (the main loop), then 896, 768, ..., 128
// (lanes 0 to 6 onto lane 7); then the Barrett quotient floor(x^128 / P) and
// P itself, as 65-bit reflections with the top bit dropped. The last pair's
// x^127 also folds the final 128 bits to 64.
func clmulConstants(poly uint64) [18]uint64 {
	normal := bits.Reverse64(poly) // P = x^64 + normal
	// timesX returns r·x mod P, and the bit that left r: x^64's multiple
	// taken out, the next bit of a quotient by P.
	timesX := func(r uint64) (uint64, uint64) {
		top := r >> 63
		return r<<1 ^ normal&-top, top
	}
	xPowMod := func(n int) uint64 { // x^n mod P, n >= 64
		r := normal // x^64 mod P
		for range n - 64 {
			r, _ = timesX(r)
		}
		return bits.Reverse64(r)
	}
	var k [18]uint64
	for i := 0; i < 16; i += 2 {
		d := 1024 - 64*i
		k[i], k[i+1] = xPowMod(d+63), xPowMod(d-1)
	}
	// floor(x^128 / P), by carrying the quotient bits out of the
	// remainder while x^64 is multiplied up to x^128.
	q, r := uint64(1), normal
	for range 64 {
		var top uint64
		r, top = timesX(r)
		q = q<<1 | top
	}
	k[16] = bits.Reverse64(1<<63 | q>>1)
	k[17] = bits.Reverse64(1<<63 | normal>>1)
	return k
}
