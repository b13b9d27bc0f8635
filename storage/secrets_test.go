package storage_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// secretValues appear in the URLs below and must appear in no error.
var secretValues = []string{
	"AKIAQUERYKEY1", "querysecretkey1", "ya29accesstoken1", "SASsignature1",
	"hunter2password", "endpointuser1", "endpointpass1", "kmskeysecret1",
	"AKIAUSERINFO1", "userinfosecret1",
}

func checkNoSecret(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secretValues {
		if strings.Contains(err.Error(), s) {
			t.Errorf("%s: the error shows %q: %v", what, s, err)
		}
	}
}

// TestErrorsNeverShowSecrets feeds URLs with credentials through Open and
// through every Repo call that fails, and greps each error.
func TestErrorsNeverShowSecrets(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "testkey")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testsecret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "devstoreaccount1")
	ctx := t.Context()
	for _, u := range []string{
		"s3://bucket/p?region=us-east-1&access_key=AKIAQUERYKEY1&secret_key=querysecretkey1",
		"s3://AKIAUSERINFO1:userinfosecret1@bucket/p?region=us-east-1",
		"gs://bucket/p?access_token=ya29accesstoken1",
		"azblob://container/p?sv=2022-11-02&sig=SASsignature1",
		"file:///tmp/x?password=hunter2password",
		"s3://bucket?endpoint=http://endpointuser1:endpointpass1@127.0.0.1:1&region=us-east-1&password=hunter2password",
	} {
		repo, err := storage.Open(ctx, u, storage.Options{})
		if err == nil {
			repo.Close()
			t.Errorf("Open(%s) succeeded; want an error", storage.Redact(u))
		}
		checkNoSecret(t, "Open "+storage.Redact(u), err)
	}

	// A store that answers every request with an error quoting the
	// request, as servers and proxies do.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>denied %s for http://endpointuser1:endpointpass1@%s</Message></Error>`, r.URL.String(), r.Host)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	u := "s3://bucket/prod?region=us-east-1&use_path_style=true&ssetype=aws:kms&kmskeyid=kmskeysecret1&endpoint=http://endpointuser1:endpointpass1@" + host
	repo, err := storage.Open(ctx, u, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	if s := repo.String(); strings.Contains(s, "endpointpass1") || strings.Contains(s, "kmskeysecret1") || strings.Contains(s, "endpointuser1") {
		t.Errorf("String() = %s shows a secret", s)
	}
	m := &storage.Manifest{Format: 1, ID: storage.NewID(time.Now()), Target: "cache", Data: storage.Data{Name: "dump.rdb.zst"}}
	calls := map[string]func() error{
		"Check": func() error { return repo.Check(ctx) },
		"List":  func() error { _, _, err := repo.List(ctx, ""); return err },
		"Get":   func() error { _, err := repo.Get(ctx, "cache", m.ID); return err },
		"Resolve latest": func() error {
			_, err := repo.Resolve(ctx, "cache", storage.Latest, storage.ResolveOptions{SkipDamaged: true})
			return err
		},
		"AsOf":     func() error { _, err := repo.AsOf(ctx, "cache", time.Now(), storage.ResolveOptions{}); return err },
		"OpenData": func() error { _, err := repo.OpenData(ctx, m); return err },
		"Create": func() error {
			up, err := repo.Create(ctx, "cache", m.ID, m.Data.Name)
			if err != nil {
				return err
			}
			if _, err := io.WriteString(up, "data"); err != nil {
				return err
			}
			return up.Commit()
		},
		"Commit":         func() error { return repo.Commit(ctx, m) },
		"Delete":         func() error { return repo.Delete(ctx, m) },
		"Leftovers":      func() error { _, err := repo.Leftovers(ctx, "", 0); return err },
		"DeleteOrphan":   func() error { return repo.DeleteOrphan(ctx, storage.Orphan{Target: "cache", ID: m.ID}) },
		"PendingUploads": func() error { _, err := repo.PendingUploads(ctx, 0); return err },
		"AbortPending": func() error {
			return repo.AbortPending(ctx, storage.PendingUpload{Key: "cache/" + m.ID + "/dump.rdb.zst", UploadID: "x"})
		},
	}
	for name, call := range calls {
		err := call()
		if err == nil {
			t.Errorf("%s against a store that refuses everything succeeded", name)
			continue
		}
		t.Logf("%s: %v", name, err)
		checkNoSecret(t, name, err)
	}
}
