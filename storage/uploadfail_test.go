package storage_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// TestUploadFailureNamesCause: an upload whose storage went away fails
// with the storage's own error (here: the connection refused), on every
// backend, never with a crash inside the driver that hides it. gocloud.dev
// v0.47's azureblob writer panicked in Close when its upload failed after
// Close began, and all the operator saw was a nil pointer dereference.
func TestUploadFailureNamesCause(t *testing.T) {
	for _, s := range []struct {
		name  string
		start func(testing.TB) *testenv.ObjectStore
		// gone points the store's URL or environment at addr.
		gone func(store *testenv.ObjectStore, addr string) string
	}{
		{"minio", testenv.StartMinIO, func(store *testenv.ObjectStore, addr string) string {
			return testenv.S3URL(store.Bucket, "http://"+addr, "us-east-1")
		}},
		{"azurite", testenv.StartAzurite, func(store *testenv.ObjectStore, addr string) string {
			return testenv.AzureEmulatorURL(store.Bucket, addr, testenv.AzuriteAccount)
		}},
		{"fake-gcs", testenv.StartFakeGCS, func(store *testenv.ObjectStore, addr string) string {
			store.Env = append(store.Env, "STORAGE_EMULATOR_HOST="+addr)
			return store.URL
		}},
	} {
		t.Run(s.name, func(t *testing.T) {
			store := s.start(t)
			url := s.gone(store, closedPort(t))
			for _, kv := range store.Env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			repo, err := storage.Open(t.Context(), url, storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer repo.Close()
			up, err := repo.Create(t.Context(), "cache", storage.NewID(time.Now()), "dump.rdb.zst")
			if err == nil {
				_, err = io.WriteString(up, "data")
			}
			if err == nil {
				err = up.Commit()
			} else {
				_ = up.Abort(t.Context())
			}
			if err == nil || !strings.Contains(err.Error(), "connection refused") {
				t.Fatalf("upload to a storage that is gone: err = %v, want the connection refused", err)
			}
		})
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
