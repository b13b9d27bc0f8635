package storage

import (
	"errors"
	"net/url"
	"regexp"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"
)

// TestParseURLPrefix: the key prefix, from the path or ?prefix=, is
// normalised to dir/ as the drivers get it.
func TestParseURLPrefix(t *testing.T) {
	for _, tc := range []struct{ url, prefix, path string }{
		{"s3://bkt/pre", "pre/", ""},
		{"s3://bkt//pre/sub//", "pre/sub/", ""},
		{"s3://bkt?prefix=np", "np/", ""},
		{"s3://bkt/?prefix=/np//", "np/", ""},
		{"s3://bkt?prefix=", "", ""},
		{"s3://bkt?prefix=/", "", ""},
		{"azblob://c/a/b?prefix=", "a/b/", ""},
		{"file:///x/inner?prefix=/abs/", "abs/", "/x/inner"},
		{"file:///x/inner/", "", "/x/inner/"},
		{"mem://?prefix=m", "m/", ""},
	} {
		u, err := parseURL(tc.url, Options{AllowMem: true})
		if err != nil {
			t.Errorf("parseURL(%q): %v", tc.url, err)
			continue
		}
		q := u.Query()
		if got := q.Get(paramPrefix); got != tc.prefix || q.Has(paramPrefix) != (tc.prefix != "") || u.Path != tc.path {
			t.Errorf("parseURL(%q) = path %q, ?prefix=%q (set %v); want path %q, ?prefix=%q", tc.url, u.Path, got, q.Has(paramPrefix), tc.path, tc.prefix)
		}
	}
}

// TestDriverParams: the drivers still take every parameter driverParams
// lists for them (after a gocloud.dev upgrade, CheckURL would pass what
// Open fails on). Each is given alone, to a fresh opener: the default
// mux's gs and azblob openers keep the first call's environment for the
// process. An error about the value, or a missing client, is fine.
func TestDriverParams(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	noClient := errors.New("no client in this test")
	openers := map[string]blob.BucketURLOpener{
		"s3":   &s3blob.URLOpener{},
		"file": &fileblob.URLOpener{},
		"gs":   &gcsblob.URLOpener{},
		"azblob": &azureblob.URLOpener{MakeClient: func(azureblob.ServiceURL, azureblob.ContainerName) (*container.Client, error) {
			return nil, noClient
		}},
	}
	refused := regexp.MustCompile(`(?:unknown|invalid) query parameter`)
	dir := t.TempDir()
	for scheme, names := range driverParams {
		for _, name := range names {
			if name == paramS3PartSize || name == paramS3Concurrency {
				continue // rdbak's own: Open takes them out
			}
			u := &url.URL{Scheme: scheme, Host: "bkt", RawQuery: name + "=1"}
			if scheme == "file" {
				u.Host, u.Path = "", dir
			}
			b, err := openers[scheme].OpenBucketURL(t.Context(), u)
			if err == nil {
				b.Close()
			} else if refused.MatchString(err.Error()) {
				t.Errorf("the %s:// driver refuses %s: %v", scheme, name, err)
			}
		}
	}
}
