package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/storage"
)

func newListCmd(g *globals) *cobra.Command {
	var (
		since string
		last  int
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
source, compression and duration.`,
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
			if structured, _ := g.jsonOutput(); structured {
				return g.writeResult(ms)
			}
			return listTable(g.stdout, ms, g.output == outWide, now)
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only backups created at or after this time: 2026-11-22, RFC 3339, or ago: 2h, 1d")
	cmd.Flags().IntVar(&last, "last", 0, "only the newest N backups")
	g.addOutputFlag(cmd, outWide)
	return cmd
}

func listTable(w io.Writer, ms []*storage.Manifest, wide bool, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "TARGET\tID\tCREATED\tAGE\tRDB SIZE\tKEYS"
	if wide {
		head += "\tSTORED\tCOMPRESSION\tREDIS\tSOURCE\tDURATION"
	}
	fmt.Fprintln(tw, head)
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d", m.Target, m.ID, m.Created.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			humanAge(now.Sub(m.Created)), humanBytes(m.Data.RawSize), m.Keys())
		if wide {
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t%s", humanBytes(m.Data.StoredSize), m.Data.Compression.Codec,
				m.Redis.String(), m.Source.Origin, m.Finished.Sub(m.Created).Round(time.Millisecond))
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
			if asJSON {
				return g.writeResult(m)
			}
			return describe(g.stdout, m)
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
	if m.IsSet() {
		row("Data", "cluster backup set of %d shards: %s raw, %s stored (%s %s)", len(m.Cluster.Shards), humanBytes(m.Data.RawSize), humanBytes(m.Data.StoredSize), m.Data.Compression.Codec, m.Data.Compression.Level)
	} else {
		row("Data", "%s: %s raw, %s stored (%s %s)", m.Data.Name, humanBytes(m.Data.RawSize), humanBytes(m.Data.StoredSize), m.Data.Compression.Codec, m.Data.Compression.Level)
	}
	if e := m.Data.Encryption; e != nil {
		row("Encryption", "%s to %s", e.Scheme, strings.Join(e.Recipients, ", "))
	}
	if m.Cluster != nil && m.Cluster.Partial {
		row("Cluster", "PARTIAL: one node taken alone (--single-node); it holds only its own shard's slots")
	}
	if m.Cluster != nil {
		for i, sh := range m.Cluster.Shards {
			var slots []string
			for _, r := range sh.Slots {
				slots = append(slots, fmt.Sprintf("%d-%d", r[0], r[1]))
			}
			detail := fmt.Sprintf("slots %s, master %s (%s), from %s %s (%s)", strings.Join(slots, ","), sh.Master, sh.MasterAddr, sh.Role, sh.Node, sh.NodeAddr)
			if m.IsSet() {
				detail += fmt.Sprintf(", %d keys, %s: %s raw, SHA-256 %s", sh.Keys, sh.Data.Name, humanBytes(sh.Data.RawSize), sh.Data.RawSHA256)
			}
			row(fmt.Sprintf("Shard %d", i), "%s", detail)
		}
	}
	if !m.IsSet() {
		row("SHA-256 raw", "%s", m.Data.RawSHA256)
		row("SHA-256 stored", "%s", m.Data.StoredSHA256)
	}
	row("Written by", "rdbak %s", m.Rdbak.Version)
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
