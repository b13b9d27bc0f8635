package rdb

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestInspectHandBuilt(t *testing.T) {
	long := strings.Repeat("k", 300)
	data := newRDB(12).selectDB(0).
		set("a", "1").                                               // 1+2+2 = 5 bytes
		set("big", strings.Repeat("v", 100)).                        // 1+4+2+100 = 107
		raw(typeSetListpack).str("s").str("lp").                     // 1+2+3 = 6
		raw(typeString).int16(-300).str("integer-named").            // 1+3+14 = 18
		selectDB(3).raw(typeString).str(long).str("x").              // 1+2+300+2 = 305
		raw(typeHashListpackEx).str("h").le64(0).str("lp").end(true) // 1+2+8+3 = 14
	s, err := Inspect(bytes.NewReader(data), 3)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	wantTypes := map[string]TypeStats{
		"string":           {Keys: 4, Bytes: 5 + 107 + 18 + 305},
		"set-listpack":     {Keys: 1, Bytes: 6},
		"hash-listpack-ex": {Keys: 1, Bytes: 14},
	}
	if !reflect.DeepEqual(s.Types, wantTypes) {
		t.Errorf("Types = %+v, want %+v", s.Types, wantTypes)
	}
	wantLargest := []KeyStat{
		{DB: 3, Key: long[:maxKeyName] + "…", Type: "string", Size: 305},
		{DB: 0, Key: "big", Type: "string", Size: 107},
		{DB: 0, Key: "-300", Type: "string", Size: 18},
	}
	if !reflect.DeepEqual(s.Largest, wantLargest) {
		t.Errorf("Largest = %+v, want %+v", s.Largest, wantLargest)
	}
	// Inspect checks as Copy does and reports the same Info.
	info, err := Copy(io_discard{}, bytes.NewReader(data))
	if err != nil || !reflect.DeepEqual(s.Info, info) {
		t.Errorf("Info = %+v (%v), want Copy's %+v", s.Info, err, info)
	}
}

func TestInspectUnparsedAndCorrupt(t *testing.T) {
	future := ended(newRDB(16).selectDB(0).set("k", "v"), true)
	s, err := Inspect(bytes.NewReader(future), 5)
	if err != nil || s.Unparsed == "" || len(s.Types) != 0 || len(s.Largest) != 0 {
		t.Errorf("future version: %v, unparsed %q, types %v, largest %v; want accepted on its CRC with no counts", err, s.Unparsed, s.Types, s.Largest)
	}
	bad := bytes.Clone(future)
	bad[len(bad)-1] ^= 1
	if _, err := Inspect(bytes.NewReader(bad), 5); err == nil {
		t.Error("Inspect accepted a bad checksum")
	}
}

// TestInspectRealServer summarises a real server's RDB: every key is
// counted under some type, and the largest is the big random string.
func TestInspectRealServer(t *testing.T) {
	data := smallRDB(t)
	s, err := Inspect(bytes.NewReader(data), 1)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	var keys uint64
	var size int64
	for _, ts := range s.Types {
		keys += ts.Keys
		size += ts.Bytes
	}
	if keys != s.KeysTotal() || keys == 0 || size >= s.Size {
		t.Errorf("types count %d keys in %d bytes; the file has %d keys in %d bytes", keys, size, s.KeysTotal(), s.Size)
	}
	if len(s.Largest) != 1 || s.Largest[0].Size <= 0 {
		t.Errorf("Largest = %+v, want one key", s.Largest)
	}
}
