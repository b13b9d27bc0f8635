package app

import (
	"log/slog"
	"testing"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
)

// TestSentinelTLS backs up a set whose Sentinels and nodes speak TLS
// (tls-replication yes, so the Sentinels report TLS ports), verifying the
// certificates, and freezes and thaws its failover over TLS. Debian's
// redis-server is built with TLS; the suite's own builds are not.
func TestSentinelTLS(t *testing.T) {
	files := testenv.NewTLSFiles(t)
	s := testenv.StartReplicaSet(t, testenv.ReplicaSetOptions{Password: "data-pw", SentinelPassword: "sentinel-pw", TLS: files})
	testenv.FillAllTypes(t, s.Master, 1)
	waitReplicated(t, s, s.Master)
	want := s.Master.Digest(t)
	o := setOptions(s, "data-pw")
	o.Sentinels = nil
	for _, a := range s.SentinelAddrs() {
		o.Sentinels = append(o.Sentinels, s.TLSAddr[a])
	}
	o.TLS = files.Client

	a := &App{Log: slog.New(slog.DiscardHandler), Version: "test"}
	conn, err := a.connectSet(t.Context(), "orders", o)
	if err != nil {
		t.Fatalf("connect over TLS: %v", err)
	}
	defer conn.Close()
	repo := openRepo(t)
	comp, _ := Compression(config.Compression{})
	res, err := backup.Run(t.Context(), conn.Source, repo, backup.Options{Target: "orders", Compression: comp, Version: "test",
		SourceKind: conn.Kind, Server: conn.Client, Topology: conn.Topology})
	if err != nil {
		t.Fatalf("backup over TLS: %v", err)
	}
	tp := res.Manifest.Topology
	if tp.ChosenRole != "replica" || tp.Master != s.TLSAddr[s.Master.Addr] {
		t.Errorf("topology %+v, want a replica of %s", tp, s.TLSAddr[s.Master.Addr])
	}
	if got := loadedDigest(t, repo, res.Manifest, testenv.DefaultServer(t)); got != want {
		t.Errorf("digest %s, want %s", got, want)
	}

	set, err := discover(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	frozen, _, err := set.freeze(t.Context(), 100*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("freeze over TLS: %v", err)
	}
	if err := set.thaw(t.Context(), frozen, 100*time.Millisecond); err != nil {
		t.Fatalf("thaw over TLS: %v", err)
	}

	// Without the CA, nothing is trusted.
	o.TLS = nil
	o.TLS = files.Client.Clone()
	o.TLS.RootCAs = nil
	if _, err := a.connectSet(t.Context(), "orders", o); err == nil {
		t.Fatal("connected to Sentinels with an untrusted certificate")
	}
}
