//go:build !amd64 || purego

package rdb

// useCLMUL is false where crc64CLMUL has no assembly.
const useCLMUL = false

// crc64CLMUL is crc64Slicing where there is no assembly; CRC64 never calls
// it there.
func crc64CLMUL(crc uint64, p []byte, _ *[18]uint64) uint64 { return crc64Slicing(crc, p) }
