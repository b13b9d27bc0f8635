package render

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// Manifests is rdbak list's table of backups at now; wide adds the stored
// size, compression, Redis version, source and duration.
func Manifests(w io.Writer, ms []*storage.Manifest, wide bool, now time.Time) error {
	return ManifestsWithDrills(w, ms, wide, now, nil)
}

// ManifestsWithDrills is Manifests with a LAST DRILL column from drills
// (each backup's newest drill by target/id; none when nil): rdbak list
// --drills.
func ManifestsWithDrills(w io.Writer, ms []*storage.Manifest, wide bool, now time.Time, drills map[string]*app.DrillSummary) error {
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
			Age(now.Sub(m.Created)), Bytes(m.Data.RawSize), m.Keys())
		if wide {
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\t%s", Bytes(m.Data.StoredSize), m.Data.Compression.Codec,
				m.Redis.String(), m.Source.Origin, m.Finished.Sub(m.Created).Round(time.Millisecond))
		}
		if drills != nil {
			cell := "-"
			if d := drills[m.Target+"/"+m.ID]; d != nil {
				cell = d.Result + " " + Age(now.Sub(d.Time)) + " ago"
			}
			fmt.Fprintf(tw, "\t%s", cell)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// Manifest is rdbak describe's view of one backup.
func Manifest(w io.Writer, m *storage.Manifest) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s:\t"+format+"\n", append([]any{k}, a...)...) }
	row("ID", "%s", m.ID)
	row("Target", "%s", m.Target)
	row("Created", "%s", m.Created.UTC().Format(time.RFC3339))
	row("Finished", "%s (%s)", m.Finished.UTC().Format(time.RFC3339), m.Finished.Sub(m.Created).Round(time.Millisecond))
	row("Source", "%s (%s)", m.Source.Origin, m.Source.Kind)
	row("Server", "%s, role %s, replication offset %d", m.Redis.String(), OrDash(m.Redis.Role), m.Redis.ReplOffset)
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
	row("Keys", "%d in %s", m.Keys(), OrDash(strings.Join(dbs, ", ")))
	if len(m.RDB.Modules) > 0 {
		row("Modules", "%s", strings.Join(m.RDB.Modules, ", "))
	}
	if m.IsSet() {
		row("Data", "cluster backup set of %d shards: %s raw, %s stored (%s %s)", len(m.Cluster.Shards), Bytes(m.Data.RawSize), Bytes(m.Data.StoredSize), m.Data.Compression.Codec, m.Data.Compression.Level)
	} else {
		row("Data", "%s: %s raw, %s stored (%s %s)", m.Data.Name, Bytes(m.Data.RawSize), Bytes(m.Data.StoredSize), m.Data.Compression.Codec, m.Data.Compression.Level)
	}
	if e := m.Data.Encryption; e != nil {
		row("Encryption", "%s to %s", e.Scheme, strings.Join(e.Recipients, ", "))
	}
	if tp := m.Topology; tp != nil {
		row("Topology", "%s", topologyLine(tp))
	}
	if m.Cluster != nil && m.Cluster.Partial {
		row("Cluster", "PARTIAL: one node taken alone (--single-node); it holds only its own shard's slots")
	}
	if m.Cluster != nil {
		for i, sh := range m.Cluster.Shards {
			row(fmt.Sprintf("Shard %d", i), "%s", shardLine(m, sh))
		}
	}
	if !m.IsSet() {
		row("SHA-256 raw", "%s", m.Data.RawSHA256)
		row("SHA-256 stored", "%s", m.Data.StoredSHA256)
	}
	row("Written by", "rdbak %s", m.Rdbak.Version)
	return tw.Flush()
}

// topologyLine describes the replication set a backup came from: which
// node was chosen, why, and a failover seen during the backup.
func topologyLine(tp *storage.Topology) string {
	s := fmt.Sprintf("from %s %s", tp.ChosenRole, tp.Chosen)
	if tp.ChosenPod != "" {
		s += " (pod " + tp.ChosenPod + ")"
	}
	s += fmt.Sprintf(" of master %s", tp.Master)
	if tp.MasterName != "" {
		s += fmt.Sprintf(" (Sentinel set %q, %d of %d Sentinels agreed)", tp.MasterName, tp.Agreed, len(tp.Sentinels))
	}
	s += fmt.Sprintf(", %d replicas; %s", len(tp.Replicas), tp.Reason)
	if tp.MasterAfter != "" {
		s += fmt.Sprintf("; a failover ran during the backup: the master became %s", tp.MasterAfter)
	}
	return s
}

// shardLine describes one shard of a cluster backup: its slots, master,
// the node it came from, and in a set its own object.
func shardLine(m *storage.Manifest, sh storage.Shard) string {
	var slots []string
	for _, r := range sh.Slots {
		slots = append(slots, fmt.Sprintf("%d-%d", r[0], r[1]))
	}
	s := fmt.Sprintf("slots %s, master %s (%s), from %s %s (%s)", strings.Join(slots, ","), sh.Master, sh.MasterAddr, sh.Role, sh.Node, sh.NodeAddr)
	if m.IsSet() {
		s += fmt.Sprintf(", %d keys, %s: %s raw, SHA-256 %s", sh.Keys, sh.Data.Name, Bytes(sh.Data.RawSize), sh.Data.RawSHA256)
	}
	return s
}

// VerifyResult is verify's -o json|yaml result; a failed verification is
// an error (exit 4), not a result. Status is OK when everything was
// checked, STORED-OK for an encrypted backup verified without an identity:
// only the stored object's size and SHA-256 were checked, not its content
// (ContentChecked false, OK false, the RDB fields zero), and verify exits 0.
type VerifyResult struct {
	Target           string `json:"target"`
	ID               string `json:"id"`
	OK               bool   `json:"ok"`
	Status           string `json:"status"`
	ContentChecked   bool   `json:"contentChecked"`
	Encrypted        bool   `json:"encrypted"`
	StoredBytes      int64  `json:"storedBytes"`
	RawBytes         int64  `json:"rawBytes"`
	RDBVersion       int    `json:"rdbVersion"`
	Keys             uint64 `json:"keys"`
	CRC64            string `json:"crc64,omitempty"`
	ChecksumVerified bool   `json:"checksumVerified"`
	// Structure is "verified", or "not-parsed: " and why: the RDB was
	// accepted on its CRC-64 alone (Note says so).
	Structure string `json:"structure,omitempty"`
	// Note says in words what was not checked; empty for OK.
	Note string `json:"note,omitempty"`
}

// The statuses of VerifyResult.
const (
	VerifyOK       = "OK"
	VerifyStoredOK = "STORED-OK"
)

// Verified is the result of a complete verification of m.
func Verified(m *storage.Manifest, rep *restore.Report) VerifyResult {
	v := VerifyResult{Target: m.Target, ID: m.ID, OK: true, Status: VerifyOK, ContentChecked: true, Encrypted: m.Data.Encrypted(),
		StoredBytes: rep.StoredSize, RawBytes: rep.RawSize, RDBVersion: rep.RDB.Version, Keys: rep.RDB.KeysTotal(),
		CRC64: m.RDB.CRC64, ChecksumVerified: m.RDB.ChecksumVerified, Structure: rep.RDB.Structure()}
	if v.Structure != rdb.StructureVerified {
		v.Note = crcOnly(rep)
	}
	return v
}

// crcOnly says that rep's RDB was accepted on its CRC-64 alone: its
// records did not parse (a format newer than this rdbak, or a crafted
// file), and the key count covers only those before the one that did not.
func crcOnly(rep *restore.Report) string {
	return "structure not parsed (" + rep.RDB.Unparsed + "): only the CRC-64 vouches for the RDB, and the keys counted are those before that point; rdbak drill proves whether Redis loads it"
}

// StoredOK is the result of an encrypted backup m checked without an
// identity (app.VerifyStored): its stored object only, as Note says.
func StoredOK(m *storage.Manifest, rep *restore.Report) VerifyResult {
	return VerifyResult{Target: m.Target, ID: m.ID, Status: VerifyStoredOK, Encrypted: true, StoredBytes: rep.StoredSize,
		Note: "encrypted (" + m.Data.Encryption.Scheme + ") and no identity given: only the stored size and SHA-256 were checked, not the content (RDB, CRC-64, keys); pass --identity-file to verify it"}
}

// VerifyLine is verify's line for a backup verified completely.
func VerifyLine(w io.Writer, m *storage.Manifest, rep *restore.Report) error {
	crc := "absent (Redis had rdbchecksum no)"
	if m.RDB.ChecksumVerified {
		crc = m.RDB.CRC64 + " verified"
	}
	if rep.RDB.Unparsed != "" {
		_, err := fmt.Fprintf(w, "OK %s/%s: %s RDB v%d, CRC-64 %s; %s\n", m.Target, m.ID,
			Bytes(rep.RawSize), rep.RDB.Version, crc, crcOnly(rep))
		return err
	}
	_, err := fmt.Fprintf(w, "OK %s/%s: %s RDB v%d, %d keys, CRC-64 %s\n", m.Target, m.ID,
		Bytes(rep.RawSize), rep.RDB.Version, rep.RDB.KeysTotal(), crc)
	return err
}

// StoredOKLine is verify's line for an encrypted backup checked without
// an identity: it says plainly what was not checked.
func StoredOKLine(w io.Writer, m *storage.Manifest, rep *restore.Report) error {
	_, err := fmt.Fprintf(w, "STORED-OK %s/%s: %s stored, size and SHA-256 match; encrypted (%s), content NOT checked (RDB, CRC-64, keys): pass --identity-file to verify it\n",
		m.Target, m.ID, Bytes(rep.StoredSize), m.Data.Encryption.Scheme)
	return err
}

// Plan is a restore plan as rdbak restore shows it before asking.
func Plan(w io.Writer, p *restore.Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Restore plan\n  backup:      %s\n", p.Summary())
	fmt.Fprintf(&b, "  into:        %s (%s), Redis %s, %s\n  strategy:    %s\n  checks:\n", p.Pod, p.Workload, p.Redis, p.Persist, p.Strategy)
	for _, f := range p.Findings {
		mark := "ok     "
		if f.Refuse {
			mark = "REFUSED"
		}
		fmt.Fprintf(&b, "    %s %s: %s\n", mark, f.Check, f.Detail)
	}
	if c := p.Cluster; c != nil {
		b.WriteString("  shards:\n")
		for _, s := range c.Shards {
			fmt.Fprintf(&b, "    shard-%d slots %s, %d keys → master %s (%s, pod %s; was %s), replicas %s\n",
				s.Shard, s.Slots, s.Keys, s.MasterAddr, s.Master, s.Pod, s.BackupMaster, strings.Join(s.Replicas, ", "))
		}
	}
	b.WriteString("  steps:\n")
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "    %d. %s\n", i+1, s)
	}
	if e := p.Estimate; e.Total > 0 {
		fmt.Fprintf(&b, "  estimate:    total ~%s, downtime ~%s (Redis not serving: from its stop until it has loaded the restored data)\n", e.Total.Round(100*time.Millisecond), e.Downtime.Round(100*time.Millisecond))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
