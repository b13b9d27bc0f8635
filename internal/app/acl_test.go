package app

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// MinimalACL is the ACL rule list, per source, that the README documents
// for the Redis user rdbak backs up as: what each source sends, and no
// more. TestMinimalACLs proves both halves against a real server.
var MinimalACL = map[config.SourceKind]string{
	// INFO (server, replication, persistence), then SYNC on the
	// replication connection. +replconf is recommended on top: without it
	// rdbak cannot ask for the RDB alone (REPLCONF rdb-only), which works,
	// but Redis then streams commands after the RDB until rdbak hangs up.
	config.SourceReplication: "+info +sync",
	// INFO, CONFIG GET dir/dbfilename (not needed with dir and
	// dbfilename set in the target), BGSAVE, LASTSAVE.
	config.SourceFile: "+info +config|get +bgsave +lastsave",
}

func TestMinimalACLs(t *testing.T) {
	for source, rules := range MinimalACL {
		t.Run(string(source), func(t *testing.T) {
			conf := []string{"user rdbak on >pw resetkeys " + rules}
			// The same rules less each one must fail: none is superfluous.
			for _, r := range strings.Fields(rules) {
				conf = append(conf, "user less"+strings.NewReplacer("+", "", "|", "-").Replace(r)+" on >pw resetkeys "+strings.Replace(rules, r, "", 1))
			}
			srv := testenv.StartRedis(t, testenv.RedisOptions{Config: conf})
			testenv.FillAllTypes(t, srv, 1)
			repo, err := storage.Open(t.Context(), "file://"+t.TempDir(), storage.Options{Create: true})
			if err != nil {
				t.Fatal(err)
			}
			defer repo.Close()
			comp, _ := Compression(config.Compression{})
			a := &App{Log: slog.New(slog.DiscardHandler), Version: "test"}
			backupAs := func(user string) error {
				tgt := &config.Target{Name: "cache", Redis: "redis://" + user + ":pw@" + srv.Addr, Source: source}
				_, err := a.Backup(t.Context(), tgt, repo, comp, nil)
				return err
			}
			if err := backupAs("rdbak"); err != nil {
				t.Fatalf("backup as a user with %q: %v", rules, err)
			}
			if source == config.SourceReplication {
				if err := srv.Client(t).Do(t.Context(), "ACL", "SETUSER", "rdbak", "+replconf").Err(); err != nil {
					t.Fatal(err)
				}
				if err := backupAs("rdbak"); err != nil {
					t.Fatalf("backup with the recommended +replconf: %v", err)
				}
			}
			for _, r := range strings.Fields(rules) {
				user := "less" + strings.NewReplacer("+", "", "|", "-").Replace(r)
				if err := backupAs(user); err == nil {
					t.Errorf("backup without %s succeeded: the documented ACL has a rule it does not need", r)
				} else if !strings.Contains(err.Error(), "NOPERM") && !strings.Contains(err.Error(), "permission") {
					t.Errorf("backup without %s: %v, want a NOPERM refusal", r, err)
				}
			}
		})
	}
}
