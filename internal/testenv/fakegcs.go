package testenv

import (
	"context"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"gocloud.dev/blob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/gcp"
	"google.golang.org/api/option"
)

const fakeGCSBucket = "rdbak-test"

// GCS URLs in gocloud.dev v0.47 (blob/gcsblob) carry no endpoint: gs://<bucket>
// takes only anonymous, access_id, private_key_path, universe_domain, grpc
// and zonal. A process reaches an emulator through the environment instead:
// STORAGE_EMULATOR_HOST=<host:port> (http:// is assumed when no scheme is
// given) makes gcsblob skip Application Default Credentials and send the
// JSON API to http://<host:port>/storage/v1/. STORAGE_EMULATOR_HOST_GRPC does
// the same for grpc=true URLs.

// StartFakeGCS starts fsouza/fake-gcs-server over http with a fresh
// filesystem backend on a free loopback port, creates one bucket, and stops
// the server when t ends. The binary is $RDBAK_FAKEGCS_BIN, deps.env's, or
// fake-gcs-server on PATH; Missing(t, "fake-gcs-server", ...) when there is
// none.
func StartFakeGCS(t testing.TB) *ObjectStore {
	t.Helper()
	bin := findServer(t, "fake-gcs-server", FakeGCSBinEnv, "fake-gcs-server")
	srv := startServer(t, serverSpec{
		name: "fake-gcs-server",
		command: func(port int, dir string) *exec.Cmd {
			// public-host and external-url make the upload and media links
			// it hands out point back at this port.
			cmd := exec.Command(bin,
				"-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(port),
				"-public-host", Addr(port), "-external-url", "http://"+Addr(port),
				"-backend", "filesystem", "-filesystem-root", dir,
				"-log-level", "warn")
			cmd.Env = cleanEnv()
			return cmd
		},
		ready:        httpStatusReady("/storage/v1/b", 200),
		startTimeout: 30 * time.Second,
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client, err := storage.NewClient(ctx, fakeGCSOptions(srv.Endpoint)...)
	if err != nil {
		t.Fatalf("fake-gcs-server client: %v", err)
	}
	defer client.Close()
	if err := client.Bucket(fakeGCSBucket).Create(ctx, "rdbak-test", nil); err != nil {
		t.Fatalf("create fake-gcs-server bucket %s: %v\nlog:\n%s", fakeGCSBucket, err, srv.Log())
	}
	return &ObjectStore{
		Name:     "fake-gcs-server",
		URL:      "gs://" + fakeGCSBucket,
		Env:      []string{"STORAGE_EMULATOR_HOST=" + Addr(srv.Port)},
		Bucket:   fakeGCSBucket,
		Endpoint: srv.Endpoint,
		Shared:   true,
		open: func(ctx context.Context) (*blob.Bucket, error) {
			// gcsblob builds the storage client from these options and
			// closes it with the bucket; a zero gcp.HTTPClient is a plain
			// http.Client without credentials, all the emulator needs.
			return gcsblob.OpenBucket(ctx, &gcp.HTTPClient{}, fakeGCSBucket,
				&gcsblob.Options{ClientOptions: fakeGCSOptions(srv.Endpoint)})
		},
	}
}

// fakeGCSOptions points a storage client at the emulator without
// credentials, so it never looks for Google credentials or a metadata
// server.
func fakeGCSOptions(endpoint string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(endpoint + "/storage/v1/"),
		option.WithoutAuthentication(),
	}
}
