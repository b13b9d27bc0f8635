package storage_test

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// minioRepo starts MinIO and opens a repository under the prefix prod/ of
// its bucket, with MinIO's credentials in the environment.
func minioRepo(t *testing.T) (*testenv.ObjectStore, *storage.Repo) {
	t.Helper()
	store := testenv.StartMinIO(t)
	for _, kv := range store.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	url := strings.Replace(store.URL, "s3://"+store.Bucket, "s3://"+store.Bucket+"/prod", 1)
	repo, err := storage.Open(t.Context(), url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = repo.Close() })
	return store, repo
}

// TestS3AbortLeavesNoParts: an aborted upload to S3 must not leave an
// unfinished multipart upload behind (invisible to List, but billed).
func TestS3AbortLeavesNoParts(t *testing.T) {
	store, repo := minioRepo(t)
	ctx := t.Context()
	up, err := repo.Create(ctx, "cache", storage.NewID(time.Now()), "dump.rdb.zst")
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := 0; i < 24; i++ {
		rand.Read(chunk)
		if _, err := up.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	uploads := func() int {
		b := store.OpenT(t)
		var client *s3.Client
		if !b.As(&client) {
			t.Fatal("the MinIO bucket is not an s3 client")
		}
		out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(store.Bucket)})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Uploads)
	}
	if n := uploads(); n == 0 {
		t.Fatal("no multipart upload under way after 24 MiB: the test would prove nothing")
	}
	if err := up.Abort(ctx); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if n := uploads(); n != 0 {
		t.Fatalf("%d unfinished multipart uploads left after Abort", n)
	}
}

// TestGCFindsKilledUpload: a backup killed during its S3 upload (here its
// context cancelled and Abort never called, as when the process is killed)
// leaves a multipart upload that List does not show. PendingUploads finds
// it with its size, says when it becomes collectable, and AbortPending
// frees it.
func TestGCFindsKilledUpload(t *testing.T) {
	store, repo := minioRepo(t)
	ctx := t.Context()

	// Another program's unfinished upload in the same bucket is not rdbak's.
	b := store.OpenT(t)
	var client *s3.Client
	if !b.As(&client) {
		t.Fatal("the MinIO bucket is not an s3 client")
	}
	if _, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(store.Bucket), Key: aws.String("prod/not-rdbak.bin")}); err != nil {
		t.Fatal(err)
	}

	id := testenv.KilledUpload(t, repo, "cache")

	orphans, err := repo.Leftovers(ctx, "", time.Hour)
	if err != nil || len(orphans) != 0 {
		t.Fatalf("Leftovers = %v, %v; the killed upload is no object, so none", orphans, err)
	}
	pending, err := repo.PendingUploads(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 {
		t.Fatalf("PendingUploads = %+v, want the killed upload alone", pending)
	}
	p := pending[0]
	if p.Key != "cache/"+id+"/dump.rdb.zst" || p.Target != "cache" || p.ID != id || p.Parts == 0 || p.Size < 5<<20 {
		t.Errorf("PendingUploads()[0] = %+v, want key cache/%s/dump.rdb.zst with its parts' bytes", p, id)
	}
	if !p.Collectable.Equal(p.Initiated.Add(time.Hour)) {
		t.Errorf("Collectable = %s, want Initiated+1h = %s", p.Collectable, p.Initiated.Add(time.Hour))
	}
	if err := repo.AbortPending(ctx, p); err != nil {
		t.Fatal(err)
	}
	if pending, err := repo.PendingUploads(ctx, 0); err != nil || len(pending) != 0 {
		t.Fatalf("after AbortPending: %+v, %v; want none", pending, err)
	}
	out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(store.Bucket)})
	if err != nil || len(out.Uploads) != 1 || aws.ToString(out.Uploads[0].Key) != "prod/not-rdbak.bin" {
		t.Fatalf("uploads left: %v, %v; want only the other program's", out.Uploads, err)
	}
	if err := repo.AbortPending(ctx, p); err != nil {
		t.Errorf("aborting an upload twice: %v, want nil", err)
	}
}

// TestS3PartSize: the s3:// URL's part_size reaches the upload: 20 MiB
// (over the transfer manager's 16 MiB multipart threshold) stored with
// part_size=5MiB is a multipart object of 4 parts, and with the default
// 8 MiB parts one of 3.
func TestS3PartSize(t *testing.T) {
	store := testenv.StartMinIO(t)
	for _, kv := range store.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	b := store.OpenT(t)
	var client *s3.Client
	if !b.As(&client) {
		t.Fatal("the MinIO bucket is not an s3 client")
	}
	data := make([]byte, 20<<20)
	rand.Read(data)
	for _, tc := range []struct {
		params string
		parts  int32
	}{
		{"part_size=5MiB&concurrency=1", 4},
		{"", 3},
	} {
		url := store.URL
		if tc.params != "" {
			url += "&" + tc.params
		}
		repo, err := storage.Open(t.Context(), url, storage.Options{})
		if err != nil {
			t.Fatalf("Open with %q: %v", tc.params, err)
		}
		id := storage.NewID(time.Now())
		up, err := repo.Create(t.Context(), "cache", id, "dump.rdb.zst")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := up.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := up.Commit(); err != nil {
			t.Fatal(err)
		}
		head, err := client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(store.Bucket),
			Key: aws.String("cache/" + id + "/dump.rdb.zst"), PartNumber: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToInt32(head.PartsCount); got != tc.parts {
			t.Errorf("with %q: %d parts (ETag %s), want %d", tc.params, got, aws.ToString(head.ETag), tc.parts)
		}
		_ = repo.Close()
	}
}
