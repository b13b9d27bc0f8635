package cluster

// Slots is the number of hash slots of a Redis Cluster.
const Slots = 16384

// crc16tab is the CRC16-CCITT (XMODEM) table Redis uses for key slots
// (src/crc16.c): polynomial 0x1021, initial value 0.
var crc16tab = func() *[256]uint16 {
	var t [256]uint16
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return &t
}()

// CRC16 is Redis's crc16 of p.
func CRC16(p []byte) uint16 {
	var crc uint16
	for _, b := range p {
		crc = crc<<8 ^ crc16tab[byte(crc>>8)^b]
	}
	return crc
}

// KeySlot returns the hash slot of key as Redis computes it (keyHashSlot in
// src/cluster.c): when the key has a non-empty {hash tag}, only the tag is
// hashed.
func KeySlot(key []byte) int {
	for s := range key {
		if key[s] != '{' {
			continue
		}
		for e := s + 1; e < len(key); e++ {
			if key[e] == '}' {
				if e == s+1 { // "{}": the whole key is hashed
					return int(CRC16(key) & (Slots - 1))
				}
				return int(CRC16(key[s+1:e]) & (Slots - 1))
			}
		}
		break // no closing brace: the whole key is hashed
	}
	return int(CRC16(key) & (Slots - 1))
}
