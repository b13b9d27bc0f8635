package footprint

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ReleaseStartupPages unmaps the executable's read-only pages and returns
// how many bytes of them were resident. It leaves the page cache alone:
// unmapped pages stay there, clean and shared, the first the kernel reclaims;
// a page the run touches again is mapped again with a minor fault, without
// I/O. Failure costs only memory, so callers may ignore the error.
func ReleaseStartupPages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	spans, err := releasable(f, exe)
	f.Close()
	if err != nil {
		return 0, err
	}
	var resident int64
	for _, s := range spans {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, s.start, s.end-s.start, unix.MADV_DONTNEED); errno != 0 {
			return resident, fmt.Errorf("madvise %#x-%#x: %w", s.start, s.end, errno)
		}
		resident += s.rss
	}
	return resident, nil
}

// span is one mapping of the executable, rss the bytes of it resident.
type span struct {
	start, end uintptr
	rss        int64
}

// releasable reads /proc/self/smaps and returns the private, read-only
// mappings of exe that hold nothing but the file's own pages. A mapping with
// anonymous pages is left alone: those are copies the process wrote before
// making the mapping read-only (a position-independent executable's
// relocated RELRO data), and unmapping them would bring back the file's
// unrelocated bytes.
func releasable(smaps io.Reader, exe string) ([]span, error) {
	var (
		spans []span
		cur   span
		keep  bool // cur is a candidate so far
	)
	flush := func() {
		if keep {
			spans = append(spans, cur)
		}
		keep = false
	}
	sc := bufio.NewScanner(smaps)
	for sc.Scan() {
		line := sc.Text()
		key, value, isField := strings.Cut(line, ":")
		if isField && !strings.Contains(key, " ") {
			// "Rss:   1234 kB", "Anonymous:   0 kB", "VmFlags: rd ex".
			switch key {
			case "Rss":
				cur.rss = kib(value)
			case "Anonymous":
				if kib(value) != 0 {
					keep = false
				}
			}
			continue
		}
		flush()
		// "00400000-020f1000 r-xp 00000000 fe:00 9994999    /usr/bin/rdbak"
		fields := strings.Fields(line)
		if len(fields) < 6 || strings.Join(fields[5:], " ") != exe {
			continue
		}
		perms := fields[1]
		if len(perms) != 4 || perms[0] != 'r' || perms[1] != '-' || perms[3] != 'p' {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			return nil, fmt.Errorf("smaps: unexpected mapping line %q", line)
		}
		cur, keep = span{start: uintptr(start), end: uintptr(end)}, true
	}
	flush()
	return spans, sc.Err()
}

// kib parses an smaps value such as "  1234 kB" into bytes, -1 if it is not one.
func kib(value string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
	if err != nil {
		return -1
	}
	return n << 10
}
