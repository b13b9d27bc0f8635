package rdb

import "errors"

var errLZF = errors.New("invalid LZF data")

// maxLZFExpansion bounds what LZF expands to: a back reference of 3 bytes
// copies at most 264 (lzf_d.c), so no valid string is more than 88 times
// its compressed length. A larger claim is a crafted length, which must
// not size an allocation.
const maxLZFExpansion = 88

// lzfLengths reports whether clen compressed bytes can expand to ulen.
func lzfLengths(clen, ulen uint64) bool { return ulen/maxLZFExpansion <= clen }

// lzfDecompress expands LZF data (liblzf's lzf_d.c format, as written by
// rdbSaveLzfStringObject) into exactly n bytes. Only AUX values are
// decompressed; values are skipped compressed.
func lzfDecompress(in []byte, n int) ([]byte, error) {
	out := make([]byte, 0, n)
	for i := 0; i < len(in); {
		ctrl := int(in[i])
		i++
		if ctrl < 32 { // literal run of ctrl+1 bytes
			run := ctrl + 1
			if len(out)+run > n || i+run > len(in) {
				return nil, errLZF
			}
			out = append(out, in[i:i+run]...)
			i += run
			continue
		}
		// Back reference: length in the top 3 bits (7 = extended by a
		// byte), distance in the low 5 bits and the next byte.
		run := ctrl >> 5
		if i >= len(in) {
			return nil, errLZF
		}
		if run == 7 {
			run += int(in[i])
			i++
			if i >= len(in) {
				return nil, errLZF
			}
		}
		ref := len(out) - (ctrl&0x1f)<<8 - 1 - int(in[i])
		i++
		run += 2
		if len(out)+run > n || ref < 0 {
			return nil, errLZF
		}
		for k := range run { // byte by byte: the source may overlap the output
			out = append(out, out[ref+k])
		}
	}
	if len(out) != n {
		return nil, errLZF
	}
	return out, nil
}
