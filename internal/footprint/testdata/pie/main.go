// Command pie releases its startup pages and then uses data that a
// position-independent executable keeps in relocated read-only memory:
// interface tables, function values and type descriptors.
package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/rdbak/rdbak/internal/footprint"
)

var ops = map[string]func(string) string{"upper": strings.ToUpper, "lower": strings.ToLower}

func main() {
	if _, err := footprint.ReleaseStartupPages(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var names []string
	for name, op := range ops {
		names = append(names, op(name))
	}
	sort.Strings(names)
	var err error = fmt.Errorf("wrapped: %w", os.ErrNotExist)
	fmt.Println(strings.Join(names, ","), errors.Is(err, os.ErrNotExist), fmt.Sprint(err))
}
