package render

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rdbak/rdbak/internal/app"
)

// Outcomes is rdbak now --all's table, with the count of successes.
func Outcomes(w io.Writer, outs []app.Outcome) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tRESULT\tID\tDURATION")
	ok, after := 0, 0
	for _, out := range outs {
		switch out.Result {
		case app.ResultSuccess:
			ok++
		case app.ResultAfterFailure:
			after++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", out.Target, out.Result, OrDash(out.ID), out.Duration)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "%d of %d targets succeeded", ok, len(outs)); err != nil || after == 0 {
		_, err = fmt.Fprintln(w)
		return err
	}
	// Their backups are stored: retrying them would take another.
	_, err := fmt.Fprintf(w, "; %d more stored a backup, then failed (heartbeat, retention or orphans)\n", after)
	return err
}

// Statuses is rdbak status's table at now.
func Statuses(w io.Writer, out []app.TargetStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tBACKUPS\tLAST SUCCESS\tAGE\tNEXT RUN\tSCHEDULE\tLAST DRILL")
	var errs []string
	for _, s := range out {
		if s.Error != "" {
			fmt.Fprintf(tw, "%s\t?\tunknown: see ERROR below\t?\t?\t%s\t?\n", s.Target, OrDash(s.Schedule))
			errs = append(errs, "ERROR "+s.Target+": "+s.Error)
			continue
		}
		last, age, next := "-", "-", "-"
		if s.LastSuccess != nil {
			last, age = s.LastSuccess.UTC().Format(time.RFC3339)+" "+s.LastBackupID, Age(s.Age)
		}
		if s.NextRun != nil {
			next = s.NextRun.Format(time.RFC3339) + " (in " + Age(s.NextRun.Sub(now)) + ")"
		}
		drill := "-"
		if d := s.LastDrill; d != nil {
			drill = d.Result + " " + Age(now.Sub(d.Time)) + " ago (" + d.BackupID + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Target, s.Backups, last, age, next, OrDash(s.Schedule), drill)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range errs {
		fmt.Fprintln(w, e)
	}
	_, err := fmt.Fprintln(w, "last failure: "+app.FailuresUnknown)
	return err
}

// Prune is prune's plan for one target: each backup with keep or drop and
// why, the manifests left alone, and the orphans.
func Prune(w io.Writer, r app.PruneResult) {
	fmt.Fprintf(w, "target %s: %s\n", r.Target, r.Policy)
	for _, d := range r.Backups {
		verdict := "keep"
		if !d.Keep {
			verdict = "drop"
		}
		loc := r.Location
		if loc == nil {
			loc = time.Local
		}
		local := d.Created.In(loc).Format("2006-01-02 15:04 MST")
		fmt.Fprintf(w, "  %s  %s  %-22s  %s\n", verdict, d.ID, local, strings.Join(d.Reasons, "; "))
	}
	for _, pr := range r.Problems {
		fmt.Fprintf(w, "  left alone, damaged: %s\n", pr)
	}
	for _, o := range r.Orphans {
		verb := "would delete"
		if o.Deleted {
			verb = "deleted"
		}
		fmt.Fprintf(w, "  orphan: %s %s (%s in %d objects, last written %s)\n", verb, o.ID, Bytes(o.Bytes), o.Objects, o.LastWritten.Format(time.RFC3339))
	}
}

// GCResult is one leftover as gc -o json|yaml prints it.
type GCResult struct {
	Target      string    `json:"target"`
	What        string    `json:"what"`
	Action      string    `json:"action"` // would delete, deleted, would abort, aborted, not yet
	Collectable time.Time `json:"collectable"`
}

// Leftover is l as gc prints it.
func Leftover(l app.Leftover) GCResult {
	var what string
	if o := l.Orphan; o != nil {
		what = fmt.Sprintf("%s/%s (%s, %d objects, last written %s)", o.Target, o.ID, Bytes(o.Size), len(o.Keys), o.Newest.UTC().Format(time.RFC3339))
	} else if u := l.Upload; u != nil {
		what = fmt.Sprintf("unfinished upload %s (%s in %d parts, started %s)", u.Key, Bytes(u.Size), u.Parts, u.Initiated.UTC().Format(time.RFC3339))
	}
	return GCResult{Target: l.Target, What: what, Action: l.Action, Collectable: l.Collectable}
}

// Line is gc's line for the leftover.
func (r GCResult) Line() string {
	if r.Action == "not yet" {
		return fmt.Sprintf("not yet %s: collectable after %s", r.What, r.Collectable.Format(time.RFC3339))
	}
	return r.Action + " " + r.What
}

// GCSummary is gc's last line, after the leftovers found, collected with
// del, within grace: what the run amounted to.
func GCSummary(w io.Writer, found []GCResult, grace time.Duration, del bool) error {
	waiting := 0
	for _, r := range found {
		if r.Action == "not yet" {
			waiting++
		}
	}
	var err error
	switch n := len(found) - waiting; {
	case n == 0 && waiting == 0:
		_, err = fmt.Fprintln(w, "no garbage")
	case n == 0:
		_, err = fmt.Fprintf(w, "nothing collectable yet: %d within the %s grace (a running backup, or a failed one to collect later)\n", waiting, grace)
	case !del:
		_, err = fmt.Fprintln(w, "dry run: pass --yes to delete")
	}
	return err
}

// PruneSummary is prune's last line: the backups and orphans it dropped
// (deleted, with del).
func PruneSummary(w io.Writer, drops, orphans int, del bool) error {
	var err error
	switch {
	case drops == 0 && orphans == 0:
		_, err = fmt.Fprintln(w, "nothing to delete")
	case !del:
		_, err = fmt.Fprintf(w, "dry run: pass --yes to delete %s and %s\n", count(drops, "backup"), count(orphans, "orphan"))
	default:
		_, err = fmt.Fprintf(w, "deleted %s and %s\n", count(drops, "backup"), count(orphans, "orphan"))
	}
	return err
}

// Validated is config validate's report: for each valid file its warnings
// on stderr and an OK line on stdout (the errors of the others are the
// command's error).
func Validated(stdout, stderr io.Writer, results []app.ValidateResult) error {
	for _, r := range results {
		if !r.OK {
			continue
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(stderr, "%s: warning: %s\n", r.File, w)
		}
		if _, err := fmt.Fprintf(stdout, "%s: OK (%s)\n", r.File, count(r.Targets, "target")); err != nil {
			return err
		}
	}
	return nil
}

// Thawed is restore --thaw's line: whether it put back the replica
// priorities a killed restore's failover freeze left at 0.
func Thawed(w io.Writer, done bool) error {
	msg := "no failover freeze recorded; nothing to thaw"
	if done {
		msg = "put back the replica-priority a killed restore left at 0"
	}
	_, err := fmt.Fprintln(w, msg)
	return err
}

// count is n noun, in the plural unless n is 1.
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
