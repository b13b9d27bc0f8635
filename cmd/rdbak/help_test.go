package main

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestHelpFiles: each help/NAME.txt is the long help of the command NAME
// names, and every command but those listed has one, so that a renamed
// file or a mistyped name cannot leave a command without its help.
func TestHelpFiles(t *testing.T) {
	root := newRootCmd()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	noLong := map[string]bool{"version": true, "config": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			name := strings.TrimPrefix(strings.ReplaceAll(sub.CommandPath(), " ", "_"), "rdbak_")
			builtin := sub.Name() == "help" || sub.Name() == "completion" || strings.HasPrefix(name, "completion_")
			if sub.Long == "" && !sub.Hidden && !builtin && !noLong[name] {
				t.Errorf("rdbak %s has no long help: add help/%s.txt and Long: longHelp(%q)", sub.Name(), name, name)
			}
			walk(sub)
		}
	}
	walk(root)

	files, err := fs.Glob(helpFiles, "help/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no help files embedded: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "help/"), ".txt")
		c := root
		if name != "rdbak" {
			var rest []string
			c, rest, err = root.Find(strings.Split(name, "_"))
			if err != nil || len(rest) > 0 {
				t.Errorf("%s: no command rdbak %s", f, strings.ReplaceAll(name, "_", " "))
				continue
			}
		}
		if c.Long == "" || c.Long != longHelp(name) {
			t.Errorf("%s is not the long help of %s: give it Long: longHelp(%q)", f, c.CommandPath(), name)
		}
	}
}
