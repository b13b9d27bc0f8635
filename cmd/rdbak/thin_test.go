package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxLines bounds package main's production Go (issue 10): it parses
// flags, prompts and prints. What a command does belongs in internal/app,
// the command-line machinery the commands share in internal/cli, tables
// and lines in internal/render, long help in help/*.txt.
const maxLines = 1000

// TestPackageMainStaysThin counts the lines of the non-test .go files, as
// wc -l does.
func TestPackageMainStaysThin(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	var per []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n := bytes.Count(b, []byte("\n"))
		total += n
		per = append(per, fmt.Sprintf("%5d %s", n, f))
	}
	if total == 0 {
		t.Fatal("no production .go files found: is the test running in cmd/rdbak?")
	}
	if total > maxLines {
		t.Errorf("cmd/rdbak has %d production lines, more than %d: move what is not flags, prompts or printing to internal/app (orchestration), internal/cli (shared flags and command-line helpers) or internal/render (output)\n%s",
			total, maxLines, strings.Join(per, "\n"))
	}
}
