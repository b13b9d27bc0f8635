package render

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rdbak/rdbak/internal/app"
)

// Inspection is rdbak inspect's view of an RDB file.
func Inspection(w io.Writer, in app.Inspection) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s:\t"+format+"\n", append([]any{k}, a...)...) }
	row("File", "%s (%s)", in.File, Bytes(in.Size))
	if in.Valid {
		row("Valid", "yes: %s", in.Checks)
	} else {
		row("Valid", "NO: %s", in.Error)
	}
	row("RDB", "%s version %d, CRC-64 %016x", OrDash(in.Magic), in.Version, in.Checksum)
	if t, ok := in.CTime(); ok {
		row("Created", "%s", t.UTC().Format(time.RFC3339))
	}
	var aux []string
	for k, v := range in.Aux {
		aux = append(aux, k+"="+v)
	}
	slices.Sort(aux)
	row("AUX", "%s", OrDash(strings.Join(aux, " ")))
	var dbs []string
	for _, db := range in.DBs {
		dbs = append(dbs, fmt.Sprintf("db%d=%d (%d with expiry)", db.Index, db.Keys, db.Expires))
	}
	row("Keys", "%d in %s", in.KeysTotal(), OrDash(strings.Join(dbs, ", ")))
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
			fmt.Fprintf(tw, "%s\t%d\t%s\n", t, in.Types[t].Keys, Bytes(in.Types[t].Bytes))
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
			fmt.Fprintf(tw, "%q\t%d\t%s\t%s\n", k.Key, k.DB, k.Type, Bytes(k.Size))
		}
		return tw.Flush()
	}
	return nil
}
