//go:build !purego

#include "textflag.h"

// func crc64CLMUL(crc uint64, p []byte, k *[18]uint64) uint64
//
// Eight 16-byte lanes X0-X7 hold the data; each step multiplies every lane
// forward by 1024 bits (k[0], k[1]) and adds the next 128 bytes. At the end
// lanes 0-6 are folded onto lane 7 by their distance (k[2] to k[15]), the
// 128 bits left are folded to 64 (k[15]) and reduced to the CRC with
// Barrett's method (k[16], k[17]). A lane is folded as
// clmul(lo, K.lo) xor clmul(hi, K.hi). The CRC register is raw: Redis's
// CRC-64 has no initial or final inversion.
TEXT ·crc64CLMUL(SB), NOSPLIT, $0-48
	MOVQ crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	MOVQ k+32(FP), DI
	SHRQ $7, CX // 128-byte blocks, at least one

	MOVOU 0x00(SI), X0
	MOVOU 0x10(SI), X1
	MOVOU 0x20(SI), X2
	MOVOU 0x30(SI), X3
	MOVOU 0x40(SI), X4
	MOVOU 0x50(SI), X5
	MOVOU 0x60(SI), X6
	MOVOU 0x70(SI), X7
	MOVQ  AX, X8
	PXOR  X8, X0 // the running CRC enters with the first bytes
	MOVOU 0x00(DI), X8 // fold by 1024 bits

loop:
	SUBQ $1, CX
	JZ   fold
	ADDQ $128, SI

#define FOLD(lane, off) \
	MOVO      lane, X9 \
	PCLMULQDQ $0x00, X8, X9 \
	PCLMULQDQ $0x11, X8, lane \
	PXOR      X9, lane \
	MOVOU     off(SI), X9 \
	PXOR      X9, lane

	FOLD(X0, 0x00)
	FOLD(X1, 0x10)
	FOLD(X2, 0x20)
	FOLD(X3, 0x30)
	FOLD(X4, 0x40)
	FOLD(X5, 0x50)
	FOLD(X6, 0x60)
	FOLD(X7, 0x70)
	JMP loop

fold:
	// Lane i moves forward by (7-i)*128 bits onto lane 7.
#define ONTO(lane, off) \
	MOVOU     off(DI), X8 \
	MOVO      lane, X9 \
	PCLMULQDQ $0x00, X8, X9 \
	PCLMULQDQ $0x11, X8, lane \
	PXOR      X9, lane \
	PXOR      lane, X7

	ONTO(X0, 0x10)
	ONTO(X1, 0x20)
	ONTO(X2, 0x30)
	ONTO(X3, 0x40)
	ONTO(X4, 0x50)
	ONTO(X5, 0x60)
	ONTO(X6, 0x70)

	// 128 bits to 64: lo * x^127 (k[15]) plus hi.
	MOVQ      0x78(DI), X9
	PCLMULQDQ $0x00, X7, X9
	PSHUFD    $0xee, X7, X7
	PXOR      X9, X7

	// Barrett reduction of X7.lo, with X9 kept to add back.
	MOVQ      0x80(DI), X10 // floor(x^128 / P)
	PCLMULQDQ $0x00, X10, X7
	PEXTRQ    $0, X7, BX
	MOVQ      0x88(DI), X10 // P
	PCLMULQDQ $0x00, X10, X7
	PXOR      X9, X7
	PEXTRQ    $1, X7, AX
	XORQ      BX, AX
	MOVQ      AX, ret+40(FP)
	RET
