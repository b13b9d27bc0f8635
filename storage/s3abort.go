package storage

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Location is where an s3:// repository's objects live, for the clean-up
// the gocloud driver misses.
type s3Location struct {
	bucket, prefix string
}

// abortMultipart aborts the unfinished multipart uploads of key. gocloud.dev
// v0.47's s3 driver aborts a cancelled upload on the upload's own, already
// cancelled context, so the abort never reaches the server and the parts
// stay in the bucket (invisible to List, still billed) until a lifecycle
// rule removes them.
func (u *Upload) abortMultipart(ctx context.Context) error {
	var client *s3.Client
	if u.s3 == nil || !u.bucket.As(&client) {
		return nil
	}
	key := u.s3.prefix + u.key
	out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(u.s3.bucket), Prefix: aws.String(key)})
	if err != nil {
		return fmt.Errorf("list unfinished uploads of %s: %w", key, err)
	}
	for _, up := range out.Uploads {
		if aws.ToString(up.Key) != key {
			continue
		}
		if _, err := client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(u.s3.bucket), Key: up.Key, UploadId: up.UploadId}); err != nil {
			return fmt.Errorf("abort unfinished upload of %s: %w", key, err)
		}
	}
	return nil
}
