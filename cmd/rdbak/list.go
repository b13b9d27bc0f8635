package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/storage"
)

func newListCmd(g *globals) *cobra.Command {
	var (
		since  string
		last   int
		drills bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the backups in storage, oldest first",
		Long: `List the backups in storage, oldest first by creation time (the order behind
latest, --as-of and retention). Only complete backups are listed:
one whose manifest was never written (a failed or running backup) does not
exist. --target limits the list to one target, --since to the backups
created at or after a time (2026-11-22, RFC 3339, or a time ago: 2h, 1d),
--last N to the newest N. -o wide adds the stored size, Redis version,
source, compression and duration; --drills the result of each backup's
newest restore drill (rdbak drill), and with -o json|yaml its summary.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			var from time.Time
			if since != "" {
				var err error
				if from, err = app.ParseTime(since, now, time.Local); err != nil {
					return usagef("--since: %w", err)
				}
			}
			repo, target, err := g.openRepo(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer repo.Close()
			ms, problems, err := repo.List(cmd.Context(), target)
			if err != nil {
				return err
			}
			for _, p := range problems {
				g.log.Warn("unreadable manifest skipped", "key", p.Key, "error", p.Err.Error())
			}
			ms = app.Newest(ms, from, last)
			var lastDrills map[string]*app.DrillSummary
			if drills {
				if lastDrills, err = app.LastDrills(cmd.Context(), repo, target); err != nil {
					return err
				}
			}
			if structured, _ := g.jsonOutput(); structured {
				if drills {
					return g.writeResult(withDrills(ms, lastDrills))
				}
				return g.writeResult(ms)
			}
			return listTable(g.stdout, ms, g.output == outWide, now, lastDrills)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only backups created at or after this time: 2026-11-22, RFC 3339, or ago: 2h, 1d")
	cmd.Flags().IntVar(&last, "last", 0, "only the newest N backups")
	cmd.Flags().BoolVar(&drills, "drills", false, "show the result of each backup's newest restore drill")
	g.addOutputFlag(cmd, outWide)
	return cmd
}

func listTable(w io.Writer, ms []*storage.Manifest, wide bool, now time.Time, drills map[string]*app.DrillSummary) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "TARGET\tID\tCREATED\tAGE\tRDB SIZE\tKEYS"
	if wide {
		head += "\tSTORED\tCOMPRESSION\tREDIS\tSOURCE\tDURATION"
	}
	if drills != nil {
		head += "\tLAST DRILL"
	}
	fmt.Fprintln(tw, head)
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d", m.Target, m.ID, m.Created.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			humanAge(now.Sub(m.Created)), humanBytes(m.Data.RawSize), m.Keys())
		if wide {
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t%s", humanBytes(m.Data.StoredSize), m.Data.Compression.Codec,
				m.Redis.String(), m.Source.Origin, m.Finished.Sub(m.Created).Round(time.Millisecond))
		}
		if drills != nil {
			d := drills[m.Target+"/"+m.ID]
			cell := "-"
			if d != nil {
				cell = d.Result + " " + humanAge(now.Sub(d.Time)) + " ago"
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// humanAge is d as kubectl's AGE column shows it: 45s, 12m, 5h, 3d.
func humanAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// listedBackup is a manifest with its newest drill, for list --drills -o json.
type listedBackup struct {
	*storage.Manifest
	LastDrill *app.DrillSummary `json:"lastDrill,omitempty"`
}

func withDrills(ms []*storage.Manifest, drills map[string]*app.DrillSummary) []listedBackup {
	out := make([]listedBackup, len(ms))
	for i, m := range ms {
		out[i] = listedBackup{Manifest: m, LastDrill: drills[m.Target+"/"+m.ID]}
	}
	return out
}

// describedBackup is describe's -o json|yaml: the manifest and the
// backup's drill records.
type describedBackup struct {
	*storage.Manifest
	Drills []drill.Record `json:"drills,omitempty"`
}

func newDescribeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe ID|PREFIX|latest",
		Short: "Show the manifest of one backup",
		Long: `Show the manifest of one backup: latest (the newest by creation time), an
id, or a unique prefix of an id or of its random suffix. A damaged newest
backup is an error (exit 4) naming it.`,
		Args: exactArgs(1, "give the backup ID (see 'rdbak list'), a unique prefix of it, or latest"),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.jsonOutput()
			if err != nil {
				return err
			}
			repo, target, err := g.openRepo(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer repo.Close()
			m, err := getBackup(cmd.Context(), repo, target, args[0])
			if err != nil {
				return err
			}
			drills, err := app.Drills(cmd.Context(), repo, m)
			if err != nil {
				return err
			}
			if asJSON {
				return g.writeResult(describedBackup{Manifest: m, Drills: drills})
			}
			if err := describe(g.stdout, m); err != nil {
				return err
			}
			return describeDrills(g.stdout, drills)
		},
	}
	g.addOutputFlag(cmd)
	return cmd
}

func describe(w io.Writer, m *storage.Manifest) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s:\t"+format+"\n", append([]any{k}, a...)...) }
	row("ID", "%s", m.ID)
	row("Target", "%s", m.Target)
	row("Created", "%s", m.Created.UTC().Format(time.RFC3339))
	row("Finished", "%s (%s)", m.Finished.UTC().Format(time.RFC3339), m.Finished.Sub(m.Created).Round(time.Millisecond))
	row("Source", "%s (%s)", m.Source.Origin, m.Source.Kind)
	row("Server", "%s, role %s, replication offset %d", m.Redis.String(), orDash(m.Redis.Role), m.Redis.ReplOffset)
	if m.Redis.MasterLink == "down" {
		row("Master link", "down when backed up: the data may be older than the master's")
	}
	row("RDB", "version %d, CRC-64 %s (%s), structure %s", m.RDB.Version, m.RDB.CRC64,
		map[bool]string{true: "verified", false: "checksums off in Redis"}[m.RDB.ChecksumVerified], m.RDB.StructureOf())
	if m.RDB.CTime != 0 {
		row("Snapshot time", "%s", time.Unix(m.RDB.CTime, 0).UTC().Format(time.RFC3339))
	}
	var dbs []string
	for _, db := range m.RDB.DBs {
		dbs = append(dbs, fmt.Sprintf("db%d=%d keys (%d with expiry)", db.Index, db.Keys, db.Expires))
	}
	row("Keys", "%d in %s", m.Keys(), orDash(strings.Join(dbs, ", ")))
	if len(m.RDB.Modules) > 0 {
		row("Modules", "%s", strings.Join(m.RDB.Modules, ", "))
	}
	row("Data", "%s: %s raw, %s stored (%s %s)", m.Data.Name, humanBytes(m.Data.RawSize), humanBytes(m.Data.StoredSize), m.Data.Compression.Codec, m.Data.Compression.Level)
	if e := m.Data.Encryption; e != nil {
		row("Encryption", "%s to %s", e.Scheme, strings.Join(e.Recipients, ", "))
	}
	row("SHA-256 raw", "%s", m.Data.RawSHA256)
	row("SHA-256 stored", "%s", m.Data.StoredSHA256)
	row("Written by", "rdbak %s", m.Rdbak.Version)
	return tw.Flush()
}

// describeDrills lists a backup's drill records, oldest first.
func describeDrills(w io.Writer, rs []drill.Record) error {
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
		on := "-"
		if r.Scratch.Version != "" {
			on = r.Scratch.Server.String()
		}
		line := fmt.Sprintf("%s %s on %s in %.1fs", r.Started.UTC().Format(time.RFC3339), r.Result, on, r.DurationSeconds)
		if r.Reason != "" {
			line += ": " + strings.ReplaceAll(r.Reason, "\n", " ")
		}
		fmt.Fprintf(tw, "%s\t%s\n", k, line)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// exactArgs is cobra.ExactArgs with a usage error that says what to give.
func exactArgs(n int, hint string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("expected %d argument(s), got %d: %s", n, len(args), hint)
		}
		return nil
	}
}
