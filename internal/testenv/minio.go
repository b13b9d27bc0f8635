package testenv

import (
	"context"
	"net/url"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// MinIO credentials and region used by StartMinIO. MinIO wants a root
// password of at least 8 characters.
const (
	minioAccessKey = "rdbak-test"
	minioSecretKey = "rdbak-test-secret"
	minioRegion    = "us-east-1"
	minioBucket    = "rdbak-test"
)

// S3URL returns the gocloud.dev v0.47 URL of an S3 bucket on an
// S3-compatible server at endpoint (http://host:port), e.g.
//
//	s3://rdbak-test?endpoint=http://127.0.0.1:9000&use_path_style=true&region=us-east-1
//
// (query-escaped here; the unescaped form above works as typed). The s3blob
// URL opener (blob/s3blob and aws.V2ConfigFromURLParams) understands:
//
//   - endpoint=<scheme://host:port>: the service endpoint. It must carry its
//     scheme: a bare host:port fails with "first path segment in URL cannot
//     contain colon".
//   - use_path_style=true (alias s3ForcePathStyle=true): address objects as
//     <endpoint>/<bucket>/<key>. Without it the SDK puts the bucket in the
//     host name (<bucket>.127.0.0.1), which MinIO, Ceph RGW and most
//     self-hosted servers do not serve.
//   - region=<name>: the signing region, else AWS_REGION or ~/.aws/config.
//     MinIO accepts any (its default is us-east-1), even none; AWS and
//     servers that check it need the right one.
//   - disable_https=true: http for endpoints the SDK derives itself; it does
//     not turn a scheme-less endpoint= into a valid one.
//   - hostname_immutable=true: send requests to endpoint exactly as given.
//   - anonymous=true, profile=<name>, role=<arn>, fips, dualstack,
//     accelerate, rate_limiter_capacity, ssetype, kmskeyid, and
//     request_checksum_calculation / response_checksum_validation
//     (when_supported|when_required; older S3-compatible servers may need
//     when_required).
//
// Any other parameter is an error. Credentials come from the usual AWS
// chain; for a child process that is AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY in its environment.
func S3URL(bucket, endpoint, region string) string {
	q := url.Values{}
	q.Set("endpoint", endpoint)
	q.Set("use_path_style", "true")
	q.Set("region", region)
	return (&url.URL{Scheme: "s3", Host: bucket, RawQuery: q.Encode()}).String()
}

// StartMinIO starts a MinIO server with a fresh data dir on a free loopback
// port, creates one bucket, and stops the server when t ends. The binary is
// $RDBAK_MINIO_BIN, deps.env's, or minio on PATH; Missing(t, "minio", ...)
// when there is none.
func StartMinIO(t testing.TB) *ObjectStore {
	t.Helper()
	bin := findServer(t, "minio", MinIOBinEnv, "minio")
	srv := startServer(t, serverSpec{
		name: "minio",
		command: func(port int, dir string) *exec.Cmd {
			cmd := exec.Command(bin, "server", "--quiet", "--address", Addr(port), dir)
			cmd.Env = append(cleanEnv(),
				"MINIO_ROOT_USER="+minioAccessKey,
				"MINIO_ROOT_PASSWORD="+minioSecretKey,
				"MINIO_BROWSER=off", // no console, so no second port
				"MINIO_UPDATE=off",
				"MINIO_CONFIG_DIR="+dir+"/.config",
				"HOME="+dir,
			)
			return cmd
		},
		ready:        httpStatusReady("/minio/health/ready", 200),
		startTimeout: 60 * time.Second,
	})
	client := minioClient(srv.Endpoint)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(minioBucket)}); err != nil {
		t.Fatalf("create minio bucket %s: %v\nlog:\n%s", minioBucket, err, srv.Log())
	}
	return &ObjectStore{
		Name:     "minio",
		URL:      S3URL(minioBucket, srv.Endpoint, minioRegion),
		Env:      []string{"AWS_ACCESS_KEY_ID=" + minioAccessKey, "AWS_SECRET_ACCESS_KEY=" + minioSecretKey},
		Bucket:   minioBucket,
		Endpoint: srv.Endpoint,
		Shared:   true,
		open: func(ctx context.Context) (*blob.Bucket, error) {
			return s3blob.OpenBucket(ctx, minioClient(srv.Endpoint), minioBucket, nil)
		},
	}
}

// minioClient builds the S3 client from explicit values only: no
// environment, no shared config files, no instance metadata.
func minioClient(endpoint string) *s3.Client {
	cfg := aws.Config{
		Region:      minioRegion,
		Credentials: credentials.NewStaticCredentialsProvider(minioAccessKey, minioSecretKey, ""),
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
}
