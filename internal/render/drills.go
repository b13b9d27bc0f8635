package render

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/storage"
)

// Drill is rdbak drill's view of one drill: the verdict, then each check.
func Drill(w io.Writer, r *drill.Record) error {
	verdict := "OK"
	if !r.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "%s drill of %s/%s on %s in %.1fs (record %s)\n", verdict, r.Target, r.BackupID, scratch(r), r.DurationSeconds, OrDash(r.Name))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	for _, c := range r.Checks {
		res := "ok"
		if !c.OK {
			res = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, res, strings.ReplaceAll(c.Detail, "\n", " "))
	}
	return tw.Flush()
}

// Drills is rdbak describe's list of a backup's drills, oldest first.
func Drills(w io.Writer, rs []drill.Record) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(rs) == 0 {
		fmt.Fprintf(tw, "Drills:\tnone (rdbak drill proves a backup restores)\n")
		return tw.Flush()
	}
	for i, r := range rs {
		k := ""
		if i == 0 {
			k = "Drills:"
		}
		line := fmt.Sprintf("%s %s on %s in %.1fs", r.Started.UTC().Format(time.RFC3339), r.Result, scratch(&r), r.DurationSeconds)
		if r.Reason != "" {
			line += ": " + strings.ReplaceAll(r.Reason, "\n", " ")
		}
		fmt.Fprintf(tw, "%s\t%s\n", k, line)
	}
	return tw.Flush()
}

func scratch(r *drill.Record) string {
	if r.Scratch.Version == "" {
		return "-"
	}
	return r.Scratch.Server.String()
}

// ListedBackup is a manifest with its newest drill: rdbak list --drills
// -o json|yaml.
type ListedBackup struct {
	*storage.Manifest
	LastDrill *app.DrillSummary `json:"lastDrill,omitempty"`
}

// WithDrills pairs each manifest with its newest drill.
func WithDrills(ms []*storage.Manifest, drills map[string]*app.DrillSummary) []ListedBackup {
	out := make([]ListedBackup, len(ms))
	for i, m := range ms {
		out[i] = ListedBackup{Manifest: m, LastDrill: drills[m.Target+"/"+m.ID]}
	}
	return out
}

// DescribedBackup is rdbak describe -o json|yaml: the manifest and the
// backup's drill records.
type DescribedBackup struct {
	*storage.Manifest
	Drills []drill.Record `json:"drills,omitempty"`
}
