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
		// A query pair url.ParseQuery would drop: a dropped endpoint= sends
		// the requests to AWS.
		{"s3://bkt/pre?endpoint=http://127.0.0.1:7770;&use_path_style=true&region=us-east-1", false, []string{`malformed query string: "endpoint" has a ';'`, "name=value"}},
		{"s3://bkt/pre?endpoint=http://127.0.0.1:7770%2&region=us-east-1", false, []string{`"endpoint" has an invalid %-escape`}},
		{"s3://bkt/pre?region=us-east-1&secret_key=TOP%zzs3cr3t", false, []string{"parameter 2 has an invalid %-escape", "secret_key=REDACTED"}},
		{"s3://bkt/pre?region=us-east-1&s3cr3t%zz=x", false, []string{"parameter 2 has an invalid %-escape", "region=us-east-1"}},
		{"s3://bkt/pre?region=us-east-1&s3cr3tAKIAUSERINFO", false, []string{"parameter 2 has no '='"}},
		{"file:///x?create_dir", false, []string{`"create_dir" has no '='`}},
		{"s3://bkt?region=us-east-1&region=eu-west-1", false, []string{`"region" is given twice`}},
		{"s3://bkt?region=us-east-1&", false, nil},
		// The key prefix: ?prefix= or the path, each segment a name.
		{"s3://bkt?prefix=np&region=us-east-1", false, nil},
		{"file:///x/inner?prefix=/abs/", false, nil},
		{"s3://bkt/?prefix=np", false, nil},
		{"s3://bkt?prefix=a/../../b", false, []string{"key prefix has an empty, '.' or '..' segment"}},
		{"s3://bkt/a/../b", false, []string{"'..' segment"}},
		{"file:///x?prefix=..", false, []string{"'..' segment"}},
		{"gs://bkt?prefix=a//b", false, []string{"an empty, '.'"}},
		{"s3://bkt?prefix=./a", false, []string{"'.'"}},
		// The endpoint is a URL with a scheme, or the SDK fails late.
		{"s3://bkt?endpoint=127.0.0.1:7770", false, []string{"endpoint needs http:// or https://", "endpoint=http://127.0.0.1:9000"}},
		{"s3://bkt?endpoint=127.0.0.1", false, []string{"endpoint needs http:// or https://"}},
		{"s3://bkt?endpoint=minio:9000", false, []string{"endpoint needs http:// or https://"}},
		{"s3://bkt?endpoint=HTTPS://minio:9000", false, nil},
		// A parameter the driver does not take is refused by the check
		// too, not only by Open.
		{"s3://bkt?region=us-east-1&partSize=16MiB", false, []string{`the s3:// driver has no query parameter "partSize"`}},
		{"azblob://c?sv=2022-11-02&sig=s3cr3t", false, []string{`no query parameter "sig"`, "AZURE_STORAGE_SAS_TOKEN"}},
		{"file:///x?secret=s3cr3t&k=v", false, []string{`the file:// driver has no query parameter`}},
		{"s3://bkt?key=dump.rdb", false, []string{`no query parameter "key"`}},
		{"s3://bkt?region=us-east-1&endpoint=http://h:9000&use_path_style=true&part_size=16MiB&ssetype=AES256", false, nil},
		{"file:///x?dir_file_mode=0700&no_tmp_dir=1&metadata=skip&create_dir=1", false, nil},
		{"gs://bkt?anonymous=true&prefix=p", false, nil},
		{"azblob://c?storage_account=a&protocol=http&domain=127.0.0.1:10000&localemu=true", false, nil},
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
		// A malformed query is shown, its values hidden as ever.
		{"s3://b?endpoint=http://127.0.0.1:7770%2&region=x", "s3://b?endpoint=REDACTED&region=x"},
		{"s3://b?region=x&secret_key=TOP%zzSECRET", "s3://b?region=x&secret_key=REDACTED"},
		{"s3://b?region=x;secret_key=TOPSECRET", "s3://b?region=x&secret_key=REDACTED"},
		{"s3://b?region=x&TOPSECRET", "s3://b?REDACTED=REDACTED&region=x"},
		{"s3://b?TOP%zzSECRET=v", "s3://b?REDACTED=REDACTED"},
		{"file:///x?create_dir", "file:///x?create_dir="},
	} {
		if got := storage.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestUnknownParameter: a misspelt parameter gets the name it misspells,
// a credential the hint where credentials go, and nothing else either.
func TestUnknownParameter(t *testing.T) {
	const creds = "credentials through the provider's environment"
	for _, tc := range []struct {
		url, want, notWant string
	}{
		{"s3://b/p?region=us-east-1&partSize=16MiB", "did you mean part_size=?", creds},
		{"s3://b/p?region=us-east-1&partsize=16MiB", "did you mean part_size=?", creds},
		{"s3://b/p?region=us-east-1&part-size=16MiB", "did you mean part_size=?", creds},
		{"s3://b/p?regoin=us-east-1", "did you mean region=?", creds},
		{"s3://b/p?region=us-east-1&endpont=http://h:1", "did you mean endpoint=?", creds},
		{"s3://b/p?region=us-east-1&usePathStyle=true", "did you mean use_path_style=?", creds},
		{"gs://b?prefx=p", "did you mean prefix=?", creds},
		{"s3://b/p?region=us-east-1&access_key=AKIA1", creds, "did you mean"},
		{"s3://b/p?region=us-east-1&secret_key=x", creds, "did you mean"},
		{"gs://b?access_token=x", creds, "did you mean"},
		{"azblob://c?sig=x", creds, "did you mean"},
		{"file:///x?password=x", creds, "did you mean"},
		{"file:///x?part_size=16MiB", "file:// takes prefix, create_dir, dir_file_mode", creds},
		{"s3://b/p?region=us-east-1&retries=3", "s3:// takes prefix, region, endpoint", creds},
	} {
		err := storage.CheckURL(tc.url, storage.Options{})
		if !errors.Is(err, storage.ErrBadURL) || !strings.Contains(err.Error(), "driver has no query parameter") {
			t.Errorf("CheckURL(%q) = %v, want ErrBadURL naming the parameter", tc.url, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), tc.notWant) {
			t.Errorf("CheckURL(%q) = %q, want it to contain %q and not %q", tc.url, err, tc.want, tc.notWant)
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
