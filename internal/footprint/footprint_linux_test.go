package footprint

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestReleasable(t *testing.T) {
	const exe = "/usr/local/bin/rdbak"
	smaps := `00400000-020f1000 r-xp 00000000 fe:00 9994999                            /usr/local/bin/rdbak
Size:              29636 kB
Rss:               17224 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
020f1000-03eb7000 r--p 01cf1000 fe:00 9994999                            /usr/local/bin/rdbak
Size:              29464 kB
Rss:               16000 kB
Anonymous:             0 kB
VmFlags: rd mr mw me
03eb7000-03ee1000 r--p 03ab7000 fe:00 9994999                            /usr/local/bin/rdbak
Size:                168 kB
Rss:                 152 kB
Anonymous:           152 kB
VmFlags: rd mr mw me ac
03ee1000-03f7e000 rw-p 03ae1000 fe:00 9994999                            /usr/local/bin/rdbak
Rss:                 668 kB
Anonymous:           120 kB
03f7e000-03fb0000 rw-p 00000000 00:00 0
Rss:                  24 kB
Anonymous:            24 kB
7f0000000000-7f0000010000 r-xp 00000000 fe:00 1234                       /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                  64 kB
Anonymous:             0 kB
7f0000020000-7f0000030000 r--p 00000000 fe:00 1235                       /usr/local/bin/rdbak.old
Rss:                  64 kB
Anonymous:             0 kB
7f0000040000-7f0000050000 r--s 00000000 fe:00 9994999                    /usr/local/bin/rdbak
Rss:                  64 kB
Anonymous:             0 kB
`
	got, err := releasable(strings.NewReader(smaps), exe)
	if err != nil {
		t.Fatal(err)
	}
	// The text and the read-only data; not the relocated RELRO data (it has
	// anonymous pages), the writable data, other files, or a shared mapping.
	want := []span{
		{start: 0x400000, end: 0x20f1000, rss: 17224 << 10},
		{start: 0x20f1000, end: 0x3eb7000, rss: 16000 << 10},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("releasable:\n got %+v\nwant %+v", got, want)
	}

	if _, err := releasable(strings.NewReader("zz-00 r-xp 0 fe:00 1 "+exe+"\n"), exe); err == nil {
		t.Error("a mapping line that does not parse: no error")
	}
}

// TestReleaseStartupPages releases the test binary's own startup pages: its
// resident file pages drop, and the program runs on.
func TestReleaseStartupPages(t *testing.T) {
	before := rssFile(t)
	released, err := ReleaseStartupPages()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	t.Logf("RssFile %d KiB -> %d KiB, %d KiB released", before>>10, after>>10, released>>10)
	if released < 1<<20 || after > before-released/4 {
		t.Errorf("RssFile %d KiB -> %d KiB with %d KiB released: the executable's pages are still mapped",
			before>>10, after>>10, released>>10)
	}
}

// TestReleaseInPIE runs a position-independent build, whose relocated
// read-only data must survive the release.
func TestReleaseInPIE(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pie")
	build := exec.Command("go", "build", "-buildmode=pie", "-o", bin, "./testdata/pie")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildmode=pie: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	if err != nil {
		t.Fatalf("the PIE build after the release: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "UPPER,lower true wrapped: file does not exist"; got != want {
		t.Errorf("the PIE build printed %q, want %q", got, want)
	}
}

func rssFile(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n << 10
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
