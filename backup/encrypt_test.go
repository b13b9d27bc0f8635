package backup_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// ageKey writes a new age identity file and returns its path and recipient.
func ageKey(t *testing.T) (string, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, id.Recipient().String()
}

// TestEncryptedRoundTrip backs up encrypted to memblob and fileblob: the
// stored object holds none of the RDB's plaintext, the manifest records
// the recipients only, and only the right identity restores it.
func TestEncryptedRoundTrip(t *testing.T) {
	rdbBytes := realRDB(t)
	marker := []byte("str:17")
	if !bytes.Contains(rdbBytes, marker) {
		t.Fatalf("the test RDB does not contain %q in plaintext", marker)
	}
	key, rec := ageKey(t)
	otherKey, _ := ageKey(t)
	recs, err := crypt.NewRecipients([]string{rec})
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"mem://", "file://" + t.TempDir()} {
		t.Run(url[:4], func(t *testing.T) {
			repo, err := storage.Open(t.Context(), url, storage.Options{Create: true, AllowMem: true})
			if err != nil {
				t.Fatal(err)
			}
			defer repo.Close()
			// No compression, so only encryption can hide the marker.
			res, err := backup.Run(t.Context(), bytesSource{rdbBytes}, repo, backup.Options{Target: "cache", Compression: settings(t, "none"), Encrypt: recs})
			if err != nil {
				t.Fatal(err)
			}
			m := res.Manifest
			if e := m.Data.Encryption; e == nil || e.Scheme != "age" || len(e.Recipients) != 1 || e.Recipients[0] != rec {
				t.Errorf("manifest data.encryption = %+v, want age to [%s]", e, rec)
			}
			if m.Format != storage.ManifestFormatEncrypted || m.Data.Name != "dump.rdb.age" {
				t.Errorf("manifest format %d, data %q; want %d, dump.rdb.age", m.Format, m.Data.Name, storage.ManifestFormatEncrypted)
			}
			body, err := repo.OpenData(t.Context(), m)
			if err != nil {
				t.Fatal(err)
			}
			stored, _ := io.ReadAll(body)
			body.Close()
			if bytes.Contains(stored, marker) {
				t.Errorf("the stored object contains %q in plaintext", marker)
			}
			if int64(len(stored)) != m.Data.StoredSize || m.Data.RawSize != int64(len(rdbBytes)) {
				t.Errorf("stored %d (manifest %d), raw manifest %d want %d", len(stored), m.Data.StoredSize, m.Data.RawSize, len(rdbBytes))
			}

			// Key rotation: the new identity first, the old one still works.
			ids, err := crypt.ReadIdentityFiles(otherKey, key)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if _, err := restore.Fetch(t.Context(), repo, m, &out, restore.FetchOptions{Identities: ids}); err != nil {
				t.Fatalf("restore with the right identity: %v", err)
			}
			if !bytes.Equal(out.Bytes(), rdbBytes) {
				t.Error("restored RDB differs from the original")
			}
			if _, err := restore.FetchStored(t.Context(), repo, m, nil); err != nil {
				t.Errorf("stored-only check: %v", err)
			}
			var sent bytes.Buffer
			if err := restore.FetchCompressed(t.Context(), repo, m, &sent, restore.FetchOptions{Identities: ids}); err != nil {
				t.Fatalf("FetchCompressed with the right identity: %v", err)
			}
			dec, err := codec.NewReader(&sent, m.Data.Compression.Codec)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := io.ReadAll(dec); err != nil || !bytes.Equal(got, rdbBytes) {
				t.Errorf("FetchCompressed sent what decodes to %d bytes (%v), not the RDB", len(got), err)
			}
			if err := restore.FetchCompressed(t.Context(), repo, m, io.Discard, restore.FetchOptions{}); !errors.Is(err, restore.ErrNeedIdentity) {
				t.Errorf("FetchCompressed without identity: err = %v, want ErrNeedIdentity", err)
			}

			wrong, _ := crypt.ReadIdentityFiles(otherKey)
			_, err = restore.Fetch(t.Context(), repo, m, io.Discard, restore.FetchOptions{Identities: wrong})
			if !errors.Is(err, restore.ErrVerify) || !errors.Is(err, crypt.ErrWrongIdentity) {
				t.Errorf("wrong identity: err = %v, want ErrVerify and ErrWrongIdentity", err)
			}
			err = restore.FetchCompressed(t.Context(), repo, m, io.Discard, restore.FetchOptions{Identities: wrong})
			if !errors.Is(err, restore.ErrVerify) || !errors.Is(err, crypt.ErrWrongIdentity) {
				t.Errorf("FetchCompressed, wrong identity: err = %v, want ErrVerify and ErrWrongIdentity", err)
			}
			dst := filepath.Join(t.TempDir(), "dump.rdb")
			if _, err := restore.ToFile(t.Context(), repo, m, dst, restore.FileOptions{}); !errors.Is(err, restore.ErrNeedIdentity) {
				t.Errorf("no identity: err = %v, want ErrNeedIdentity", err)
			}
			if _, err := restore.ToFile(t.Context(), repo, m, dst, restore.FileOptions{Identities: wrong}); err == nil {
				t.Error("restore with the wrong identity succeeded")
			}
			if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 0 {
				t.Errorf("failed restores left %v behind", ents)
			}
		})
	}
}
