//go:build !purego

package rdb

import "golang.org/x/sys/cpu"

// useCLMUL says whether this CPU has carry-less multiplication (PCLMULQDQ)
// and the SSE4.1 moves crc64CLMUL uses; every x86-64 server CPU since 2010
// does.
var useCLMUL = cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSE41

// crc64CLMUL returns crc updated with p, like crc64Slicing, folding 128
// bytes at a time with PCLMULQDQ (about 8 times the tables' speed). len(p)
// must be a non-zero multiple of foldBlock; k holds clmulConstants.
//
//go:noescape
func crc64CLMUL(crc uint64, p []byte, k *[18]uint64) uint64
