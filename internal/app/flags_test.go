package app

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// TestEncryptFlags: the flags replace the config's encryption; a bad key
// or a file given as a key is a usage error naming the flag.
func TestEncryptFlags(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key := id.Recipient().String()
	dir := t.TempDir()
	file := writeFile(t, dir, "recipients.txt", key+"\n")
	base := &config.Target{Name: "a", Encryption: config.Encryption{RecipientsFile: "old.txt"}}

	if got, err := (&EncryptFlags{}).Apply(base); err != nil || got != base {
		t.Errorf("no flags: %+v %v, want the target itself", got, err)
	}
	if got, err := (&EncryptFlags{RecipientsFile: file}).Apply(base); err != nil || !slices.Equal(got.Encryption.Recipients, []string{key}) || got.Encryption.RecipientsFile != "" {
		t.Errorf("--encrypt-recipients-file: %+v %v, want a copy with the file's key", got, err)
	}
	got, err := (&EncryptFlags{Recipients: []string{key}}).Apply(base)
	if err != nil || got == base || got.Encryption.RecipientsFile != "" || got.Encryption.Recipients[0] != key || base.Encryption.RecipientsFile != "old.txt" {
		t.Errorf("--encrypt-recipient: %+v %v, want a copy with the key only", got, err)
	}
	for _, tc := range []struct {
		e    EncryptFlags
		want string
	}{
		{EncryptFlags{Recipients: []string{key}, RecipientsFile: file}, "not both"},
		{EncryptFlags{Recipients: []string{file}}, "is a file: use --encrypt-recipients-file"},
		{EncryptFlags{Recipients: []string{key, "age1nope"}}, "--encrypt-recipient #2"},
		// A recipients file that would fail every backup: missing, no keys,
		// a bad key.
		{EncryptFlags{RecipientsFile: filepath.Join(dir, "nosuch.txt")}, "--encrypt-recipients-file"},
		{EncryptFlags{RecipientsFile: writeFile(t, dir, "comments.txt", "# none yet\n")}, "--encrypt-recipients-file"},
		{EncryptFlags{RecipientsFile: writeFile(t, dir, "bad.txt", key+"\nage1nope\n")}, "--encrypt-recipients-file"},
	} {
		if _, err := tc.e.Apply(base); !isUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a usage error with %q", tc.e, err, tc.want)
		}
	}

	// An import is encrypted as rdbak now would encrypt the target:
	// the config target's, defaults.encryption for other names, or the flags'.
	cfg := writeFile(t, dir, "rdbak.yaml", "storage: file:///b\ndefaults:\n  encryption: {recipientsFile: recipients.txt}\ntargets:\n  - {name: plain, redis: \"redis://h:1\"}\n")
	for _, tc := range []struct {
		req     Request
		e       EncryptFlags
		encrypt bool
	}{
		{Request{Target: "x"}, EncryptFlags{}, false},
		{Request{Target: "x"}, EncryptFlags{RecipientsFile: file}, true},
		{Request{Config: cfg, Target: "x"}, EncryptFlags{}, true},
	} {
		tc.req.Log = quiet()
		r, err := tc.req.ImportRecipients(&tc.e)
		if err != nil || (r != nil) != tc.encrypt {
			t.Errorf("%+v %+v: recipients %v, %v; want encrypted %v", tc.req, tc.e, r, err, tc.encrypt)
		}
	}
}

// TestRequestIdentities: the config's identityFile of the --target (or
// of defaults) adds to the flags'.
func TestRequestIdentities(t *testing.T) {
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.txt"), []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, dir, "rdbak.yaml", "storage: file:///b\ndefaults:\n  encryption: {recipients: ["+id.Recipient().String()+"], identityFile: key.txt}\ntargets:\n  - {name: a, redis: \"redis://h:1\"}\n")
	for _, target := range []string{"a", "not-in-config"} {
		ids, err := (&App{Log: quiet()}).Identities(t.Context(), Request{Config: cfg, Target: target, Log: quiet()}, nil)
		if err != nil || ids.Len() != 1 {
			t.Errorf("--target %s: %v identities, %v; want the config's", target, ids, err)
		}
	}
	if ids, err := (&App{Log: quiet()}).Identities(t.Context(), Request{Log: quiet()}, nil); err != nil || ids.Len() != 0 {
		t.Errorf("no config, no flags: %v, %v", ids, err)
	}
}

// TestValidateConfigs: one result per file; the bad ones make one usage
// error naming each file.
func TestValidateConfigs(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", "storage: file:///b\ntargets:\n  - {name: a, redis: \"redis://:pw@h:1\"}\n")
	bad := writeFile(t, dir, "bad.yaml", "storage: file:///b\ntargets:\n  - {name: a, redis: \"redis://h:1\", bogus: 1}\n")
	res, err := ValidateConfigs([]string{good, bad})
	if !isUsage(err) || !strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), good) {
		t.Errorf("error %v, want a usage error naming %s only", err, bad)
	}
	if len(res) != 2 || !res[0].OK || res[0].Targets != 1 || len(res[0].Warnings) != 1 || res[1].OK || res[1].Error == "" {
		t.Errorf("results %+v", res)
	}
	if _, err := ValidateConfigs([]string{good}); err != nil {
		t.Errorf("a good file: %v", err)
	}
}

// TestTargetNamesAndBackups: completion's candidates come from the config,
// else from storage.
func TestTargetNamesAndBackups(t *testing.T) {
	_, url, repo := fileStore(t)
	now := time.Now()
	testenv.PutBackup(t, repo, "s", storage.NewID(now), now)
	cfg := writeFile(t, t.TempDir(), "rdbak.yaml", "storage: "+url+"\ntargets:\n  - {name: a, redis: \"redis://h:1\"}\n  - {name: b, redis: \"redis://h:2\"}\n")
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{Config: cfg}, "a,b"},
		{Request{Storage: url}, "s"},
		{Request{}, ""},
	} {
		tc.req.Log = quiet()
		got, err := tc.req.TargetNames(t.Context())
		if err != nil || strings.Join(got, ",") != tc.want {
			t.Errorf("%+v: %v, %v; want %s", tc.req, got, err, tc.want)
		}
	}
	ms, err := Request{Storage: url, Log: quiet()}.Backups(t.Context())
	if err != nil || len(ms) != 1 || ms[0].Target != "s" {
		t.Errorf("backups %v, %v", ms, err)
	}
}
