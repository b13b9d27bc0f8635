package main

import (
	"embed"
	"strings"
)

// helpFiles holds the long help of every command, help/NAME.txt (NAME: the
// command's path below rdbak joined by _, rdbak for the root), kept apart
// from the code so that it is read and edited as the text it is.
//
//go:embed help/*.txt
var helpFiles embed.FS

// longHelp is the long help of the command NAME; TestHelpFiles checks that
// every command asks for a file that exists, and every file is used.
func longHelp(name string) string {
	b, err := helpFiles.ReadFile("help/" + name + ".txt")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}
