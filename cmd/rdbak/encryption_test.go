package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/rdbak/rdbak/internal/render"
	"github.com/rdbak/rdbak/internal/testenv"
)

// newAgeKey writes an age identity file into dir and returns its path and
// public key.
func newAgeKey(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, id.Recipient().String()
}

// TestEncryptedBackupCLI takes an encrypted backup with the built binary
// from a real redis-server and checks what verify and restore --to-file do
// with the right, a wrong and no identity.
func TestEncryptedBackupCLI(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	want := src.Digest(t)
	dir := t.TempDir()
	store := "file://" + filepath.Join(dir, "repo")
	key, rec := newAgeKey(t, dir, "key.txt")
	wrong, _ := newAgeKey(t, dir, "wrong.txt")
	marker := []byte("str:17") // a key name, stored as plain bytes in the RDB

	// Uncompressed, so only encryption can hide the marker: check that it
	// shows in a plain backup first.
	plain := strings.TrimSpace(run(t, nil, "now", "--redis", "redis://"+src.Addr, "--storage", store, "--target", "plain", "--compression", "none").stdout)
	if b, err := os.ReadFile(filepath.Join(dir, "repo", "plain", plain, "dump.rdb")); err != nil || !bytes.Contains(b, marker) {
		t.Fatalf("plain backup %q does not show %q (%v): the check below would prove nothing", plain, marker, err)
	}
	r := run(t, nil, "now", "--redis", "redis://"+src.Addr, "--storage", store, "--target", "cache", "--compression", "none", "--encrypt-recipient", rec)
	r.want(t, 0)
	id := strings.TrimSpace(r.stdout)
	objects, _ := filepath.Glob(filepath.Join(dir, "repo", "cache", id, "*"))
	if len(objects) != 2 {
		t.Fatalf("backup objects %v, want the data and the manifest", objects)
	}
	for _, o := range objects {
		b, _ := os.ReadFile(o)
		if bytes.Contains(b, marker) {
			t.Errorf("%s contains %q in plaintext", o, marker)
		}
		if bytes.Contains(b, []byte("AGE-SECRET-KEY")) {
			t.Errorf("%s contains an identity", o)
		}
	}
	r = run(t, nil, "describe", id, "--storage", store, "--target", "cache")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "age to "+rec) {
		t.Errorf("describe does not show the encryption:\n%s", r.stdout)
	}

	r = run(t, nil, "verify", id, "--storage", store, "--target", "cache")
	r.want(t, 0)
	if !strings.HasPrefix(r.stdout, "STORED-OK ") || !strings.Contains(r.stdout, "content NOT checked") {
		t.Errorf("verify without identity:\n%s\nwant STORED-OK ... content NOT checked", r.stdout)
	}
	// Structured, STORED-OK says the content was not checked, and ok is
	// false so that a script reading ok alone is not misled.
	for _, c := range []struct {
		args []string
		want render.VerifyResult
	}{
		{nil, render.VerifyResult{Status: "STORED-OK", OK: false, ContentChecked: false, Encrypted: true}},
		{[]string{"--identity-file", key}, render.VerifyResult{Status: "OK", OK: true, ContentChecked: true, Encrypted: true}},
	} {
		r = run(t, nil, append([]string{"verify", id, "--storage", store, "--target", "cache", "-o", "json"}, c.args...)...)
		r.want(t, 0)
		var got render.VerifyResult
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("verify -o json %v: %v\n%s", c.args, err, r.stdout)
		}
		if got.Status != c.want.Status || got.OK != c.want.OK || got.ContentChecked != c.want.ContentChecked || got.Encrypted != c.want.Encrypted ||
			got.StoredBytes == 0 || got.ID != id || (got.Status == "STORED-OK") != (got.Note != "" && got.Keys == 0) {
			t.Errorf("verify -o json %v = %+v, want %+v", c.args, got, c.want)
		}
	}
	r = run(t, nil, "verify", id, "--storage", store, "--target", "cache", "--identity-file", key)
	r.want(t, 0)
	if !strings.HasPrefix(r.stdout, "OK ") {
		t.Errorf("verify with the identity:\n%s\nwant OK", r.stdout)
	}
	run(t, nil, "verify", id, "--storage", store, "--target", "cache", "--identity-file", wrong).want(t, exitVerify, "identities")

	outDir := t.TempDir()
	out := filepath.Join(outDir, "dump.rdb")
	run(t, nil, "restore", id, "--storage", store, "--target", "cache", "--to-file", out).want(t, exitUsage, "encrypted", "--identity-file")
	run(t, nil, "restore", id, "--storage", store, "--target", "cache", "--to-file", out, "--identity-file", wrong).want(t, exitVerify, "identities")
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Fatalf("failed restores left %v behind", ents)
	}
	// After a key rotation both identities are given; each is tried.
	run(t, nil, "restore", id, "--storage", store, "--target", "cache", "--to-file", out, "--identity-file", wrong, "--identity-file", key).want(t, 0)
	if got := testenv.StartRedis(t, testenv.RedisOptions{Dir: outDir}).Digest(t); got != want {
		t.Fatalf("restored digest %s, want %s", got, want)
	}
	run(t, nil, "now", "--redis", "redis://"+src.Addr, "--storage", store, "--target", "cache", "--encrypt-recipient", key).want(t, exitUsage, "--encrypt-recipient")

	// A dump imported by hand is encrypted like a backup.
	imp := strings.TrimSpace(run(t, nil, "import", out, "--storage", store, "--target", "imported", "--encrypt-recipient", rec).stdout)
	r = run(t, nil, "verify", imp, "--storage", store, "--target", "imported")
	r.want(t, 0)
	if !strings.HasPrefix(r.stdout, "STORED-OK ") {
		t.Errorf("verify of the imported backup without identity:\n%s\nwant STORED-OK (encrypted)", r.stdout)
	}
}
