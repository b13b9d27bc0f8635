package storage_test

import (
	"errors"
	"io/fs"
	"net/url"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/storage"
)

// TestCheckURL: the one URL check behind --storage and the config file.
func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		allowMem bool
		want     []string // in the error; none means accepted
	}{
		{"file:///var/backups/rdbak", false, nil},
		{"file://localhost/var/backups", false, nil},
		{"file://./backups", false, nil},
		{"s3://bucket/prefix?region=eu-west-1", false, nil},
		{"gs://bucket", false, nil},
		{"azblob://container/p", false, nil},
		{"mem://", true, nil},
		{"mem://", false, []string{"vanish when rdbak exits", "mem:// is for tests"}},
		{"file://backups", false, []string{`"backups" is in the host's place`, "file:///backups", "file://./backups"}},
		{"file://relhost/path", false, []string{"no host part", "file:///relhost/path", "file://./relhost/path"}},
		{"file:backups", false, []string{"missing // after the scheme"}},
		{"file://", false, []string{"needs a directory path"}},
		{"s4://bucket", false, []string{`unsupported storage scheme "s4"`, "azblob, file, gs, s3"}},
		{"s3://", false, []string{"missing the bucket"}},
		{"s3:///prefix", false, []string{"missing the bucket"}},
		{"s3://bucket/a?prefix=b/", false, []string{"both a path and ?prefix="}},
		{"/var/backups", false, []string{"missing the scheme"}},
		{"s3://bucket/%zz", false, []string{"invalid %-escape"}},
		{"s3://AKIAUSERINFO:s3cr3tuserinfo@bucket", false, []string{"credentials in the storage URL"}},
		{"s3://bucket/p?part_size=16MiB&concurrency=4", false, nil},
		{"s3://bucket/p?part_size=5242880", false, nil},
		{"s3://bucket/p?part_size=1MiB", false, []string{"part_size 1048576 is out of range", "5MiB to 5GiB", "part_size=16MiB"}},
		{"s3://bucket/p?part_size=big", false, []string{"part_size: size \"big\"", "KiB, MiB or GiB"}},
		{"s3://bucket/p?concurrency=0", false, []string{"concurrency \"0\" is not a number of parts from 1 to 64"}},
		{"s3://bucket/p?concurrency=65", false, []string{"concurrency 65 is out of range"}},
	} {
		err := storage.CheckURL(tc.url, storage.Options{AllowMem: tc.allowMem})
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("CheckURL(%q) = %v, want nil", tc.url, err)
			}
			continue
		}
		var ue *storage.URLError
		if !errors.Is(err, storage.ErrBadURL) || !errors.As(err, &ue) {
			t.Errorf("CheckURL(%q) = %v, want a *URLError matching ErrBadURL", tc.url, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("CheckURL(%q) = %q, want it to contain %q", tc.url, err, w)
			}
		}
		if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "AKIAUSERINFO") {
			t.Errorf("CheckURL(%q) shows the credentials: %v", tc.url, err)
		}
	}
	// Open refuses what CheckURL refuses, before touching anything.
	dir := t.TempDir()
	t.Chdir(dir)
	if _, err := storage.Open(t.Context(), "file://backups", storage.Options{Create: true}); !errors.Is(err, storage.ErrBadURL) {
		t.Fatalf("Open(file://backups): err = %v, want ErrBadURL", err)
	}
	if _, err := storage.Open(t.Context(), "mem://", storage.Options{}); !errors.Is(err, storage.ErrBadURL) {
		t.Fatalf("Open(mem://) outside tests: err = %v, want ErrBadURL", err)
	}
	for _, u := range []string{"s3://b?region=us-east-1&access_key=AKIAQUERYKEY1", "file://" + dir + "?password=hunter2password"} {
		_, err := storage.Open(t.Context(), u, storage.Options{})
		if !errors.Is(err, storage.ErrBadURL) || !strings.Contains(err.Error(), "driver has no query parameter") {
			t.Errorf("Open(%s): err = %v, want ErrBadURL naming the parameter", storage.Redact(u), err)
		}
		checkNoSecret(t, "Open", err)
	}
	repo, err := storage.Open(t.Context(), "file://./rel", storage.Options{Create: true})
	if err != nil {
		t.Fatalf("Open(file://./rel): %v", err)
	}
	repo.Close()
	// A directory that is not there, to read from: a wrong path, or no
	// backup yet.
	if _, err := storage.Open(t.Context(), "file://"+dir+"/nope", storage.Options{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "check the path") {
		t.Errorf("Open of a missing directory: err = %v, want not-exist and a hint", err)
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"s3://b/p?region=us-east-1", "s3://b/p?region=us-east-1"},
		{"s3://b/p?region=us-east-1&access_key=AKIA1&secret_key=XYZ", "s3://b/p?access_key=REDACTED&region=us-east-1&secret_key=REDACTED"},
		{"s3://b?endpoint=http://minio:minio123@host:9000&use_path_style=true", "s3://b?endpoint=http%3A%2F%2Fhost%3A9000&use_path_style=true"},
		{"s3://b?endpoint=http://host:9000/?X-Amz-Signature=abc", "s3://b?endpoint=http%3A%2F%2Fhost%3A9000%2F%3FX-Amz-Signature%3DREDACTED"},
		{"azblob://c?sv=2022&sig=SASSIG&storage_account=acct", "azblob://c?sig=REDACTED&storage_account=acct&sv=REDACTED"},
		{"file:///x?password=hunter2#frag", "file:///x?password=REDACTED"},
		{"s3://user:pass@b", "s3://b"},
		{"mem://", "mem://"},
		{"s3://?region=x", "s3://?region=x"},
		{"%zz", "<unparseable URL>"},
		{"default:s3cret@redis:6379", "default:REDACTED@redis:6379"},
		{"u:p@h:1/x", "u:REDACTED@h:1/x"},
	} {
		if got := storage.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestURLParseProblemHidesTheURL(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"redis://:s3cret%zz@h", "invalid %-escape (write a literal % as %25)"},
		{"redis://s3cret\x01@h", "net/url: invalid control character in URL"},
	} {
		_, err := url.Parse(tc.url)
		if err == nil {
			t.Fatalf("url.Parse(%q) succeeded", tc.url)
		}
		got := storage.URLParseProblem(err)
		if got != tc.want || strings.Contains(got, "s3cret") {
			t.Errorf("URLParseProblem(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"8388608", 8 << 20, true},
		{"16MiB", 16 << 20, true},
		{"512 KiB", 512 << 10, true},
		{"1GiB", 1 << 30, true},
		{"16MB", 0, false},
		{"-1", 0, false},
		{"", 0, false},
		{"99999999999GiB", 0, false},
	} {
		got, err := storage.ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
