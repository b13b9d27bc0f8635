package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// s3Location is where an s3:// repository's objects live, for the clean-up
// the gocloud driver misses.
type s3Location struct {
	bucket, prefix string
	upload         S3Upload                   // part size and concurrency of data objects
	sse            types.ServerSideEncryption // the URL's ssetype, for rdbak's own uploads
	kmsKeyID       *string                    // the URL's kmskeyid
}

// PendingUpload is an unfinished multipart upload under the repository:
// what a backup killed during its upload (kill -9, a lost node) leaves on
// S3. Its parts are invisible to List and billed until it is aborted.
type PendingUpload struct {
	Key        string // the object key the upload would create, relative to the repository
	Target, ID string
	UploadID   string
	Initiated  time.Time
	Parts      int
	Size       int64 // sum of the parts' sizes
	// Collectable is Initiated plus the grace of the call that found it.
	Collectable time.Time
}

// PendingUploads returns every unfinished upload whose key lies in rdbak's
// layout under the repository's prefix, whatever its age, with the time a
// grace of grace makes it collectable: on S3 the multipart uploads, on Azure
// the blobs with uncommitted blocks only (see azurePending). Uploads of other
// keys (another program sharing the bucket) are never listed. It returns
// nothing for file and GCS: the file driver writes a temporary file that a
// leftover shows, and GCS resumable uploads are not listable and expire
// after a week by themselves.
func (r *Repo) PendingUploads(ctx context.Context, grace time.Duration) ([]PendingUpload, error) {
	var az *container.Client
	if r.bucket.As(&az) {
		return r.azurePending(ctx, az, grace)
	}
	var client *s3.Client
	if r.s3 == nil || !r.bucket.As(&client) {
		return nil, nil
	}
	// The whole bucket, filtered here: MinIO lists an upload only when the
	// prefix is its full key, where S3 takes any prefix.
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(r.s3.bucket)}
	var out []PendingUpload
	for {
		page, err := client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, r.scrub.err(fmt.Errorf("list unfinished uploads in %s: %w", r.display, err))
		}
		for _, up := range page.Uploads {
			key, under := strings.CutPrefix(aws.ToString(up.Key), r.s3.prefix)
			t, id, _, ok := splitBackupKey(key)
			if !under || !ok {
				continue
			}
			p := PendingUpload{Key: key, Target: t, ID: id, UploadID: aws.ToString(up.UploadId), Initiated: aws.ToTime(up.Initiated)}
			if err := r.sumParts(ctx, client, &p); err != nil {
				return nil, err
			}
			p.Collectable = p.Initiated.Add(grace)
			out = append(out, p)
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
	slices.SortFunc(out, func(a, b PendingUpload) int {
		if c := a.Initiated.Compare(b.Initiated); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out, nil
}

// sumParts counts p's uploaded parts and their bytes.
func (r *Repo) sumParts(ctx context.Context, client *s3.Client, p *PendingUpload) error {
	pages := s3.NewListPartsPaginator(client, &s3.ListPartsInput{
		Bucket: aws.String(r.s3.bucket), Key: aws.String(r.s3.prefix + p.Key), UploadId: aws.String(p.UploadID),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return r.scrub.err(fmt.Errorf("list the parts of unfinished upload %s: %w", p.Key, err))
		}
		for _, part := range page.Parts {
			p.Parts++
			p.Size += aws.ToInt64(part.Size)
		}
	}
	return nil
}

// AbortPending aborts an unfinished upload found by PendingUploads, freeing
// its parts. An upload already finished or aborted is not an error.
func (r *Repo) AbortPending(ctx context.Context, p PendingUpload) error {
	var az *container.Client
	if r.bucket.As(&az) {
		return r.azureAbort(ctx, az, p)
	}
	var client *s3.Client
	if r.s3 == nil || !r.bucket.As(&client) {
		return fmt.Errorf("abort unfinished upload %s: %s is not an S3 repository", p.Key, r.display)
	}
	_, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(r.s3.bucket), Key: aws.String(r.s3.prefix + p.Key), UploadId: aws.String(p.UploadID),
	})
	var nsu *types.NoSuchUpload
	if err != nil && !errors.As(err, &nsu) {
		return r.scrub.err(fmt.Errorf("abort unfinished upload %s: %w", p.Key, err))
	}
	return nil
}
