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

// TestS3AbortLeavesNoParts: an aborted upload to S3 must not leave an
// unfinished multipart upload behind (invisible to List, but billed).
func TestS3AbortLeavesNoParts(t *testing.T) {
	store := testenv.StartMinIO(t)
	for _, kv := range store.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ctx := t.Context()
	url := strings.Replace(store.URL, "s3://"+store.Bucket, "s3://"+store.Bucket+"/prod", 1)
	repo, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
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
