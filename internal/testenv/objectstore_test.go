package testenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// childEnv is set when the test binary runs as the child rdbak stand-in.
const childEnv = "RDBAK_TESTENV_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := childMain(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childMain does what the rdbak CLI will do with a store: blob.OpenBucket on
// the URL with nothing but its environment. It reads the parent's object,
// writes its own, lists both and deletes the parent's.
func childMain() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	u := os.Getenv("CHILD_URL")
	b, err := blob.OpenBucket(ctx, u)
	if err != nil {
		return fmt.Errorf("open %s: %w", u, err)
	}
	defer b.Close()
	in, out := os.Getenv("CHILD_KEY_IN"), os.Getenv("CHILD_KEY_OUT")
	got, err := b.ReadAll(ctx, in)
	if err != nil {
		return fmt.Errorf("read %s: %w", in, err)
	}
	if want := os.Getenv("CHILD_WANT_IN"); string(got) != want {
		return fmt.Errorf("read %s: got %q, want %q", in, got, want)
	}
	if err := b.WriteAll(ctx, out, []byte(os.Getenv("CHILD_CONTENT_OUT")), nil); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	keys, err := listKeys(ctx, b, "testenv/")
	if err != nil {
		return err
	}
	if !slices.Contains(keys, in) || !slices.Contains(keys, out) {
		return fmt.Errorf("list testenv/: got %q, want both %s and %s", keys, in, out)
	}
	if err := b.Delete(ctx, in); err != nil {
		return fmt.Errorf("delete %s: %w", in, err)
	}
	return nil
}

func listKeys(ctx context.Context, b *blob.Bucket, prefix string) ([]string, error) {
	var keys []string
	it := b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return keys, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		keys = append(keys, obj.Key)
	}
}

// stores lists the five store kinds a conformance suite ranges over.
var stores = []struct {
	name  string
	start func(testing.TB) *ObjectStore
}{
	{"mem", MemBucket},
	{"file", FileBucket},
	{"minio", StartMinIO},
	{"azurite", StartAzurite},
	{"fake-gcs-server", StartFakeGCS},
}

// TestOpenInProcess writes, lists, reads and deletes through Open, with a
// small object carrying metadata and one large enough for multipart / block
// / resumable uploads.
func TestOpenInProcess(t *testing.T) {
	for _, tc := range stores {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.start(t)
			if s.Name != tc.name {
				t.Errorf("Name: got %q, want %q", s.Name, tc.name)
			}
			ctx := t.Context()
			b := s.OpenT(t)

			small := []byte("hello from " + tc.name)
			opts := &blob.WriterOptions{ContentType: "text/plain", Metadata: map[string]string{"backup_id": "b1"}}
			if err := b.WriteAll(ctx, "testenv/dir/small.txt", small, opts); err != nil {
				t.Fatalf("write small: %v", err)
			}
			large := make([]byte, 6<<20+123)
			rnd := rand.New(rand.NewPCG(7, 11))
			for i := range large {
				large[i] = byte(rnd.UintN(256))
			}
			w, err := b.NewWriter(ctx, "testenv/large.bin", nil)
			if err != nil {
				t.Fatalf("new writer: %v", err)
			}
			// Small writes, as a stream of RDB chunks would arrive.
			for off := 0; off < len(large); off += 100_000 {
				if _, err := w.Write(large[off:min(off+100_000, len(large))]); err != nil {
					t.Fatalf("write large at %d: %v", off, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatalf("close large writer: %v", err)
			}

			keys, err := listKeys(ctx, b, "testenv/")
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"testenv/dir/small.txt", "testenv/large.bin"}; !slices.Equal(keys, want) {
				t.Errorf("list: got %q, want %q", keys, want)
			}
			attrs, err := b.Attributes(ctx, "testenv/dir/small.txt")
			if err != nil {
				t.Fatalf("attributes: %v", err)
			}
			if attrs.Size != int64(len(small)) || attrs.Metadata["backup_id"] != "b1" || !strings.HasPrefix(attrs.ContentType, "text/plain") {
				t.Errorf("attributes: got size %d metadata %v type %q, want %d, backup_id=b1, text/plain",
					attrs.Size, attrs.Metadata, attrs.ContentType, len(small))
			}
			if got, err := b.ReadAll(ctx, "testenv/dir/small.txt"); err != nil || !bytes.Equal(got, small) {
				t.Errorf("read small: got %q, %v; want %q", got, err, small)
			}
			r, err := b.NewReader(ctx, "testenv/large.bin", nil)
			if err != nil {
				t.Fatalf("open large: %v", err)
			}
			h := sha256.New()
			n, err := io.Copy(h, r)
			r.Close()
			if err != nil || n != int64(len(large)) || !bytes.Equal(h.Sum(nil), sha256Sum(large)) {
				t.Errorf("read large: got %d bytes, err %v, sha256 match %v; want %d bytes",
					n, err, bytes.Equal(h.Sum(nil), sha256Sum(large)), len(large))
			}
			if _, err := b.ReadAll(ctx, "testenv/absent"); gcerrors.Code(err) != gcerrors.NotFound {
				t.Errorf("read absent: got %v (code %v), want NotFound", err, gcerrors.Code(err))
			}

			if s.Shared {
				// A second handle sees what the first wrote.
				b2 := s.OpenT(t)
				if ok, err := b2.Exists(ctx, "testenv/large.bin"); err != nil || !ok {
					t.Errorf("second handle: exists large = %v, %v; want true", ok, err)
				}
			}

			for _, k := range keys {
				if err := b.Delete(ctx, k); err != nil {
					t.Errorf("delete %s: %v", k, err)
				}
			}
			if keys, err := listKeys(ctx, b, ""); err != nil || len(keys) != 0 {
				t.Errorf("list after delete: got %q, %v; want none", keys, err)
			}
		})
	}
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// childVariant is one way of handing a store to a child process.
type childVariant struct {
	name string
	url  string
	env  []string
}

// TestChildProcess proves the URL+Env pair: a child process that knows only
// them reads what the test wrote in-process, writes, lists and deletes, and
// the test sees the child's changes.
func TestChildProcess(t *testing.T) {
	for _, tc := range stores {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.start(t)
			if !s.Shared {
				// Each blob.OpenBucket of mem:// is a new bucket, so the
				// child would see nothing; pin that down instead.
				out, err := runChild(t, s.URL, s.Env, "testenv/p", "x", "testenv/c")
				if err == nil || !strings.Contains(string(out), "code=NotFound") {
					t.Fatalf("child on %s: got %v, want a NotFound failure; output:\n%s", s.URL, err, out)
				}
				return
			}
			variants := []childVariant{{"canonical", s.URL, s.Env}}
			switch s.Name {
			case "minio":
				// The same URL as a person types it, endpoint not escaped.
				variants = append(variants, childVariant{"typed", "s3://" + s.Bucket + "?endpoint=" + s.Endpoint + "&use_path_style=true&region=us-east-1", s.Env})
			case "azurite":
				variants = append(variants, childVariant{"connection-string", "azblob://" + s.Bucket, []string{"AZURE_STORAGE_CONNECTION_STRING=" + AzuriteConnectionString(s.Endpoint)}})
			}
			b := s.OpenT(t)
			ctx := t.Context()
			for i, v := range variants {
				in, out := fmt.Sprintf("testenv/from-parent-%d", i), fmt.Sprintf("testenv/from-child-%d", i)
				parentContent, childContent := "parent "+v.name, "child "+v.name
				if err := b.WriteAll(ctx, in, []byte(parentContent), nil); err != nil {
					t.Fatalf("%s: write %s: %v", v.name, in, err)
				}
				if outp, err := runChild(t, v.url, v.env, in, parentContent, out, "CHILD_CONTENT_OUT="+childContent); err != nil {
					t.Fatalf("%s: child with %s: %v\n%s", v.name, v.url, err, outp)
				}
				if got, err := b.ReadAll(ctx, out); err != nil || string(got) != childContent {
					t.Errorf("%s: read child's %s: got %q, %v; want %q", v.name, out, got, err, childContent)
				}
				if ok, err := b.Exists(ctx, in); err != nil || ok {
					t.Errorf("%s: %s after child deleted it: exists = %v, %v; want false", v.name, in, ok, err)
				}
				if err := b.Delete(ctx, out); err != nil {
					t.Errorf("%s: delete %s: %v", v.name, out, err)
				}
			}
		})
	}
}

// TestChildWrongCredentials shows that the servers check what Env supplies,
// so the child test above cannot pass by some other route.
func TestChildWrongCredentials(t *testing.T) {
	cases := []struct {
		name    string
		start   func(testing.TB) *ObjectStore
		env     []string
		wantErr string // the server's refusal, not some other failure
	}{
		{"minio", StartMinIO, []string{"AWS_ACCESS_KEY_ID=" + minioAccessKey, "AWS_SECRET_ACCESS_KEY=wrong-secret"}, "SignatureDoesNotMatch"},
		{"azurite", StartAzurite, []string{"AZURE_STORAGE_ACCOUNT=" + AzuriteAccount, "AZURE_STORAGE_KEY=" + strings.Repeat("A", 86) + "=="}, "AuthorizationFailure"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.start(t)
			b := s.OpenT(t)
			if err := b.WriteAll(t.Context(), "testenv/p", []byte("x"), nil); err != nil {
				t.Fatal(err)
			}
			out, err := runChild(t, s.URL, tc.env, "testenv/p", "x", "testenv/c")
			if err == nil {
				t.Fatalf("child with wrong credentials succeeded:\n%s", out)
			}
			if !strings.Contains(string(out), tc.wantErr) {
				t.Errorf("child failed without %q:\n%s", tc.wantErr, out)
			}
			if ok, err := b.Exists(t.Context(), "testenv/c"); err != nil || ok {
				t.Errorf("object written with wrong credentials: exists = %v, %v", ok, err)
			}
		})
	}
}

// runChild runs this test binary as the child with only the cleaned
// environment, env and the CHILD_* values.
func runChild(t *testing.T, url string, env []string, keyIn, wantIn, keyOut string, extra ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(cleanEnv(), env...)
	cmd.Env = append(cmd.Env, childEnv+"=1", "CHILD_URL="+url, "CHILD_KEY_IN="+keyIn,
		"CHILD_WANT_IN="+wantIn, "CHILD_KEY_OUT="+keyOut)
	cmd.Env = append(cmd.Env, extra...)
	return cmd.CombinedOutput()
}

func TestReadDepsEnv(t *testing.T) {
	f := t.TempDir() + "/deps.env"
	content := "# comment\nexport RDBAK_MINIO_BIN=/c/minio/v1/minio\nRDBAK_FAKEGCS_BIN='/c/f g/fake'\n\nnot a pair\n"
	if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got := readDepsEnv(f)
	want := map[string]string{"RDBAK_MINIO_BIN": "/c/minio/v1/minio", "RDBAK_FAKEGCS_BIN": "/c/f g/fake"}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestFindServerPrefersEnv(t *testing.T) {
	bin := t.TempDir() + "/minio"
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(MinIOBinEnv, bin)
	if got := findServer(t, "minio", MinIOBinEnv, "minio"); got != bin {
		t.Errorf("got %q, want %q", got, bin)
	}
}
