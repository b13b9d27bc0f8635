package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/restore"
)

// inspection is what rdbak inspect prints: the file and its summary.
type inspection struct {
	File   string `json:"file"`
	Valid  bool   `json:"valid"`
	Error  string `json:"error,omitempty"`
	Checks string `json:"checks"`
	rdb.Summary
}

func newInspectCmd(g *globals) *cobra.Command {
	var top int
	cmd := &cobra.Command{
		Use:   "inspect FILE|-",
		Short: "Check a local RDB file and summarise it (version, AUX fields, keys, types, largest keys)",
		Long: `Check an RDB file on this machine (or - for stdin) the way every backup is
checked while it streams, and summarise it: the magic and version, the AUX
fields (Redis version, creation time, replication id), keys and expiring keys
per db, keys and bytes per value type and encoding, the largest keys by
serialized size, modules, functions, and whether the CRC-64 verified.
Nothing is written and no server is contacted.

Use it on a dump.rdb copied out of a pod (kubectl cp) before importing or
loading it. Exit 0: the file is valid; 4: it is damaged (truncated, bad
checksum, garbage); 1: it could not be read.`,
		Args: exactArgs(1, "give the RDB file, or - for stdin"),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.jsonOutput()
			if err != nil {
				return err
			}
			if top < 0 {
				return usagef("--top %d: give 0 or more", top)
			}
			var r io.Reader = os.Stdin
			name := "stdin"
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("open %s: %w", args[0], err)
				}
				defer f.Close()
				r, name = f, args[0]
			}
			s, ierr := rdb.Inspect(r, top)
			out := inspection{File: name, Valid: ierr == nil, Checks: checks(s.Info), Summary: s}
			if ierr != nil {
				out.Error = ierr.Error()
				if !errors.Is(ierr, rdb.ErrCorrupt) && !errors.Is(ierr, rdb.ErrUnsupportedVersion) {
					return fmt.Errorf("read %s: %w", name, ierr)
				}
			}
			if asJSON {
				if err := g.writeResult(out); err != nil {
					return err
				}
			} else if err := printInspection(g.stdout, out); err != nil {
				return err
			}
			if ierr != nil {
				return fmt.Errorf("%w: %s: %w", restore.ErrVerify, name, ierr)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&top, "top", 10, "how many of the largest keys to list")
	g.addOutputFlag(cmd)
	return cmd
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

func printInspection(w io.Writer, in inspection) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s:\t"+format+"\n", append([]any{k}, a...)...) }
	row("File", "%s (%s)", in.File, humanBytes(in.Size))
	if in.Valid {
		row("Valid", "yes: %s", in.Checks)
	} else {
		row("Valid", "NO: %s", in.Error)
	}
	row("RDB", "%s version %d, CRC-64 %016x", orDash(in.Magic), in.Version, in.Checksum)
	if t, ok := in.CTime(); ok {
		row("Created", "%s", t.UTC().Format(time.RFC3339))
	}
	var aux []string
	for k, v := range in.Aux {
		aux = append(aux, k+"="+v)
	}
	slices.Sort(aux)
	row("AUX", "%s", orDash(strings.Join(aux, " ")))
	var dbs []string
	for _, db := range in.DBs {
		dbs = append(dbs, fmt.Sprintf("db%d=%d (%d with expiry)", db.Index, db.Keys, db.Expires))
	}
	row("Keys", "%d in %s", in.KeysTotal(), orDash(strings.Join(dbs, ", ")))
	if len(in.Modules) > 0 {
		row("Modules", "%s", strings.Join(in.Modules, ", "))
	}
	if in.Functions > 0 {
		row("Functions", "%d libraries", in.Functions)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(in.Types) > 0 {
		fmt.Fprintln(w)
		types := slices.Sorted(maps.Keys(in.Types))
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TYPE\tKEYS\tBYTES")
		for _, t := range types {
			fmt.Fprintf(tw, "%s\t%d\t%s\n", t, in.Types[t].Keys, humanBytes(in.Types[t].Bytes))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(in.Largest) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LARGEST KEYS\tDB\tTYPE\tSIZE")
		for _, k := range in.Largest {
			fmt.Fprintf(tw, "%q\t%d\t%s\t%s\n", k.Key, k.DB, k.Type, humanBytes(k.Size))
		}
		return tw.Flush()
	}
	return nil
}
