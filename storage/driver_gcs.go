//go:build !rdbak_nogcs

package storage

import (
	"errors"
	"net/http"

	gcs "cloud.google.com/go/storage"
	"gocloud.dev/blob"
	"google.golang.org/api/googleapi"

	// gs:// URLs. The Google SDK's package inits keep about 5 MiB of the
	// executable resident in every run, used or not; build with the tag
	// rdbak_nogcs to leave it out (see driverTag).
	_ "gocloud.dev/blob/gcsblob"
)

// gcsAttempts bounds the calls the Google client makes for one request
// that fails with a retryable error (429, 5xx, a reset connection).
// Unbounded by default: a bucket behind a proxy that answers 502 hung
// every command, and a daemon's backup without a timeout, for ever,
// logging nothing. With the client's backoff (1 s doubling, jittered) five
// attempts take at most about 15 s, about as long as the S3 and Azure
// SDKs try.
const gcsAttempts = 5

func init() {
	bucketSetups = append(bucketSetups, func(b *blob.Bucket) {
		var c *gcs.Client
		if b.As(&c) {
			c.SetRetry(gcs.WithMaxAttempts(gcsAttempts))
		}
	})
	forbidden = append(forbidden, func(err error) bool {
		var g *googleapi.Error
		return errors.As(err, &g) && g.Code == http.StatusForbidden
	})
}
