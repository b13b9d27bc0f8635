package app

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/restore"
)

// Inspection is what rdbak inspect prints: the file and its summary.
type Inspection struct {
	File   string `json:"file"`
	Valid  bool   `json:"valid"`
	Error  string `json:"error,omitempty"`
	Checks string `json:"checks"`
	rdb.Summary
}

// Inspect checks the RDB file path (- for stdin) as every backup is
// checked, and summarises it with its top largest keys. A damaged file
// gives an Inspection to print and an error wrapping restore.ErrVerify; a
// file that cannot be read gives only the error.
func Inspect(path string, stdin io.Reader, top int) (Inspection, error) {
	if top < 0 {
		return Inspection{}, usagef("--top %d: give 0 or more", top)
	}
	r, name := stdin, "stdin"
	if path != "-" {
		f, _, err := backup.LocalFiles{}.OpenFile(context.Background(), path)
		if err != nil {
			return Inspection{}, fmt.Errorf("open %s: %w", path, err)
		}
		defer f.Close()
		r, name = f, path
	}
	s, err := rdb.Inspect(r, top)
	out := Inspection{File: name, Valid: err == nil, Checks: checks(s.Info), Summary: s}
	if err == nil {
		return out, nil
	}
	out.Error = err.Error()
	if !errors.Is(err, rdb.ErrCorrupt) && !errors.Is(err, rdb.ErrUnsupportedVersion) {
		return Inspection{}, fmt.Errorf("read %s: %w", name, err)
	}
	return out, fmt.Errorf("%w: %s: %w", restore.ErrVerify, name, err)
}

// checks says which checks the file passed: the structure and the CRC-64,
// the structure alone, or the CRC-64 alone.
func checks(in rdb.Info) string {
	switch {
	case in.Unparsed != "":
		return "CRC-64 only (structure not parsed: " + in.Unparsed + ")"
	case in.ChecksumVerified:
		return "structure and CRC-64"
	}
	return "structure only (the file has no checksum: rdbchecksum no)"
}
