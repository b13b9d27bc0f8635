package rdb

import (
	"cmp"
	"container/heap"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Summary is what Inspect learned about an RDB file: everything Copy
// reports, and per value type and encoding the keys and bytes, and the
// largest keys. It is the core of `rdbak inspect`.
type Summary struct {
	Info
	// Types maps a type name as the file encodes it ("hash-listpack",
	// "hash-metadata", "stream-listpacks-3", ...) to its keys and bytes.
	Types map[string]TypeStats
	// Largest are the biggest keys by serialized size, biggest first.
	Largest []KeyStat
}

// TypeStats counts the keys of one value type.
type TypeStats struct {
	Keys  uint64
	Bytes int64 // serialized size: type byte, key and value
}

// KeyStat is one key and its serialized size.
type KeyStat struct {
	DB   int
	Key  string // the first maxKeyName bytes of a longer name, then "…"
	Type string
	Size int64
}

// maxKeyName bounds how much of a key name Inspect keeps.
const maxKeyName = 256

// Inspect reads one RDB file from r, checks it as Copy does and returns its
// Summary with the top largest keys. Memory stays bounded by top. The error
// is Copy's; on error the Summary describes what was read before it.
func Inspect(r io.Reader, top int) (Summary, error) {
	obs := &observer{types: map[string]TypeStats{}, top: top, names: true}
	info, err := parse(io.Discard, r, obs)
	s := Summary{Info: info, Types: obs.types, Largest: slices.Clone(obs.largest)}
	if info.Unparsed != "" {
		s.Types, s.Largest = map[string]TypeStats{}, nil // partial, like DBs
	}
	slices.SortFunc(s.Largest, func(a, b KeyStat) int {
		return cmp.Or(cmp.Compare(b.Size, a.Size), cmp.Compare(a.DB, b.DB), cmp.Compare(a.Key, b.Key))
	})
	return s, err
}

// observer collects per-key statistics while the parser runs.
type observer struct {
	types   map[string]TypeStats
	top     int
	largest keyHeap // a min-heap of the top largest keys
	names   bool    // read key names (Inspect); Walk needs none
	walk    func(Key)
}

func (o *observer) key(db int, name, typ string, size int64, expireMs int64) {
	if o.walk != nil {
		o.walk(Key{DB: db, Kind: KindOf(typ), Expires: expireMs != 0, ExpireMs: expireMs})
		return
	}
	ts := o.types[typ]
	ts.Keys++
	ts.Bytes += size
	o.types[typ] = ts
	if o.top <= 0 {
		return
	}
	k := KeyStat{DB: db, Key: name, Type: typ, Size: size}
	if len(o.largest) < o.top {
		heap.Push(&o.largest, k)
	} else if size > o.largest[0].Size {
		o.largest[0] = k
		heap.Fix(&o.largest, 0)
	}
}

type keyHeap []KeyStat

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i].Size < h[j].Size }
func (h keyHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *keyHeap) Push(x any)        { *h = append(*h, x.(KeyStat)) }
func (h *keyHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// keyName reads a key name, keeping at most maxKeyName bytes of it.
func (p *parser) keyName() (string, error) {
	v, enc, err := p.lengthOrEncoding()
	if err != nil {
		return "", err
	}
	if !enc {
		keep := min(v, maxKeyName)
		b, err := p.next(int(keep))
		if err != nil {
			return "", err
		}
		name := string(b)
		if v > keep {
			return name + "…", p.skip(v - keep)
		}
		return name, nil
	}
	switch v {
	case encInt8, encInt16, encInt32:
		n, err := p.intString(v)
		return strconv.FormatInt(n, 10), err
	case encLZF:
		out, ulen, clen, err := p.lzfString(maxAuxLen)
		switch {
		case err != nil:
			return "", err
		case out == nil:
			return fmt.Sprintf("<compressed key of %d bytes>", ulen), p.skip(clen)
		case len(out) > maxKeyName:
			return string(out[:maxKeyName]) + "…", nil
		}
		return string(out), nil
	}
	return "", p.corrupt("unknown string encoding %d", v)
}

// Key is what Walk reports of one key: no name and no value, only what a
// restore drill compares with the server that loaded the file.
type Key struct {
	DB int
	// Kind is the type as Redis's TYPE command names it (KindOf).
	Kind string
	// Expires is true when the key has an expire time, ExpireMs (Unix
	// milliseconds).
	Expires  bool
	ExpireMs int64
}

// Walk reads one RDB file from r, checks it as Copy does, and calls fn for
// every key in file order. Memory stays bounded: fn sees each key once. On
// error the Info describes what was read before it; a file accepted on its
// CRC-64 alone (Info.Unparsed) may have reported some keys to fn.
func Walk(r io.Reader, fn func(Key)) (Info, error) {
	return parse(io.Discard, r, &observer{walk: fn})
}

// Kinds Redis's TYPE command reports, as KindOf maps the file's encodings.
const (
	KindString = "string"
	KindList   = "list"
	KindSet    = "set"
	KindZset   = "zset"
	KindHash   = "hash"
	KindStream = "stream"
	// KindModule stands for any module type: TYPE answers with the
	// module's own type name, which the file holds only as an id.
	KindModule  = "module"
	KindUnknown = "unknown"
)

// KindOf maps a type name as the file encodes it (Summary.Types) to the
// type TYPE reports once loaded: hash-listpack and hash-metadata are both
// hash.
func KindOf(encoded string) string {
	switch {
	case encoded == "string":
		return KindString
	case strings.HasPrefix(encoded, "list"):
		return KindList
	case strings.HasPrefix(encoded, "set"):
		return KindSet
	case strings.HasPrefix(encoded, "zset"):
		return KindZset
	case strings.HasPrefix(encoded, "hash"), encoded == "valkey-hash-2":
		return KindHash
	case strings.HasPrefix(encoded, "stream"):
		return KindStream
	case strings.HasPrefix(encoded, "module"):
		return KindModule
	}
	return KindUnknown
}
