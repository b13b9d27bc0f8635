package crypt

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
)

func identityFile(t *testing.T) (path, recipient string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(path, []byte("# created: test\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, id.Recipient().String()
}

func TestRoundTripAndRotation(t *testing.T) {
	oldKey, oldRec := identityFile(t)
	newKey, newRec := identityFile(t)
	rs, err := NewRecipients([]string{oldRec})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := rs.Encrypt(&buf)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "secret-value")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("secret-value")) {
		t.Fatal("plaintext in the ciphertext")
	}
	// After rotation both identities are given; the old one decrypts.
	ids, err := ReadIdentityFiles(newKey, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ids.Decrypt(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); string(got) != "secret-value" {
		t.Errorf("got %q, want secret-value", got)
	}
	only, _ := ReadIdentityFiles(newKey)
	if _, err := only.Decrypt(bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrWrongIdentity) {
		t.Errorf("wrong identity: got %v, want ErrWrongIdentity", err)
	}
	if _, err := (&Identities{}).Decrypt(bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("no identity: got %v, want ErrNoIdentity", err)
	}
	if got := rs.Keys(); len(got) != 1 || got[0] != oldRec || newRec == oldRec {
		t.Errorf("Keys() = %v, want [%s]", got, oldRec)
	}
}

func TestParseRecipient(t *testing.T) {
	_, rec := identityFile(t)
	id, _ := age.GenerateX25519Identity()
	tests := []struct {
		key     string
		wantErr string
	}{
		{rec, ""},
		{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOsvQ4QWqLe0ni6/Nxd6b4VQN+oWTAdvBlaXL0Uk1uY3 test", ""},
		{id.String(), "not a recipient"},
		{"age1notakey", "malformed"},
		{"hello", "unknown recipient type"},
	}
	for _, tt := range tests {
		_, err := ParseRecipient(tt.key)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParseRecipient(%.20q): %v", tt.key, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseRecipient(%.20q) = %v, want error containing %q", tt.key, err, tt.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "AGE-SECRET-KEY") {
			t.Errorf("error shows the private key: %v", err)
		}
	}
}
