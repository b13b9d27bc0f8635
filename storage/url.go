package storage

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"gocloud.dev/blob"
)

// ErrBadURL means a storage URL rdbak refuses: not a URL, an unknown scheme,
// a missing bucket, a file URL with a host, credentials in the URL, mem://
// outside tests. The user has to fix it; the CLI exits 2. Errors that wrap
// it are *URLError values.
var ErrBadURL = errors.New("bad storage URL")

// URLError says what is wrong with a storage URL and how to write it. It
// never holds a secret: URL is redacted, and Problem and Hint quote no part
// of the URL but the scheme and a file path.
type URLError struct {
	URL     string // redacted; empty when the URL could not be parsed
	Problem string
	// Scheme is set when the scheme is what is wrong; Problem does not
	// quote it, for callers that hide values (the config file's ${ENV}).
	Scheme string
	Hint   string
}

func (e *URLError) Error() string {
	s := "storage URL"
	if e.URL != "" {
		s += " " + e.URL
	}
	s += ": " + e.Problem
	if e.Scheme != "" {
		s += " " + quote(e.Scheme)
	}
	if e.Hint != "" {
		s += "\nhint: " + e.Hint
	}
	return s
}

// Is makes errors.Is(err, ErrBadURL) true.
func (e *URLError) Is(target error) bool { return target == ErrBadURL }

// Schemes are the storage URL schemes rdbak accepts (mem:// only with
// Options.AllowMem).
var Schemes = []string{"azblob", "file", "gs", "s3"}

// driverTag names the build tag that leaves a scheme's driver out
// (driver_*.go): a fleet that backs up to file:// or S3 can drop the
// Google and Azure SDKs, whose package inits keep about 6 MiB of the
// executable resident in every run.
var driverTag = map[string]string{"gs": "gcs", "azblob": "azure"}

const s3UploadHint = "e.g. s3://bucket/prefix?part_size=16MiB&concurrency=4; memory is part_size × concurrency"

const urlHint = "e.g. file:///var/backups/rdbak or s3://bucket/prefix?region=eu-west-1"

// CheckURL reports whether rawURL is a storage URL Open accepts, without
// opening anything: the one check behind the CLI's --storage and the config
// file's storage fields. Its error is a *URLError.
func CheckURL(rawURL string, o Options) error {
	_, err := parseURL(rawURL, o)
	return err
}

// parseURL checks rawURL and returns it parsed, the path of a non-file URL
// moved into ?prefix=.
func parseURL(rawURL string, o Options) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, &URLError{Problem: "not a valid URL: " + URLParseProblem(err), Hint: urlHint}
	}
	bad := func(problem, hint string) error {
		return &URLError{URL: redact(rawURL), Problem: problem, Hint: hint}
	}
	switch {
	case u.Scheme == "":
		return nil, bad("missing the scheme (s3://, file://, ...)", urlHint)
	case u.Scheme == "mem" && !o.AllowMem:
		return nil, bad("mem:// keeps backups in this process's memory: they vanish when rdbak exits", "mem:// is for tests; use a directory or a bucket, "+urlHint)
	case u.Scheme != "mem" && !slices.Contains(Schemes, u.Scheme):
		return nil, &URLError{URL: redact(rawURL), Problem: "unsupported storage scheme", Scheme: u.Scheme, Hint: "use one of " + strings.Join(Schemes, ", ") + ", " + urlHint}
	case u.Scheme != "mem" && !blob.DefaultURLMux().ValidBucketScheme(u.Scheme):
		return nil, &URLError{URL: redact(rawURL), Problem: "this rdbak was built without the " + u.Scheme + ":// driver (build tag rdbak_no" + driverTag[u.Scheme] + ")",
			Hint: "use the standard rdbak image or binary, which has every driver, or build without that tag"}
	case u.User != nil:
		return nil, bad("credentials in the storage URL are not supported", "give cloud credentials through the provider's environment (e.g. AWS_ACCESS_KEY_ID) or workload identity")
	case u.Opaque != "":
		return nil, bad("missing // after the scheme", "write "+u.Scheme+":///absolute/path or "+u.Scheme+"://bucket/prefix")
	case u.Scheme == "file":
		return u, checkFileURL(u, bad)
	case u.Scheme != "mem" && u.Host == "":
		return nil, bad("missing the bucket or container name", urlHint)
	}
	q := u.Query()
	if u.Scheme == "s3" {
		if _, err := takeS3Upload(u.Query()); err != nil {
			return nil, bad(err.Error(), s3UploadHint)
		}
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if q.Get("prefix") != "" {
			return nil, bad("has both a path and ?prefix=", "use one of them for the key prefix")
		}
		q.Set("prefix", p+"/")
		u.Path = ""
		u.RawPath = ""
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// checkFileURL refuses file URLs whose directory would not be what the user
// meant. file://NAME and file://host/path parse with a host, which the
// file driver ignores: the first would be the current directory, the
// second /path.
func checkFileURL(u *url.URL, bad func(problem, hint string) error) error {
	switch u.Host {
	case "", "localhost":
		if u.Path == "" {
			return bad("a file URL needs a directory path", "e.g. file:///var/backups/rdbak")
		}
		return nil
	case ".":
		return nil // file://./rel: relative to the current directory
	}
	rel := strings.TrimSuffix(u.Host+u.Path, "/")
	return bad("a file URL has no host part, and "+quote(u.Host)+" is in the host's place",
		"write three slashes for an absolute path, file:///"+rel+", or file://./"+rel+" for "+rel+" under the current directory")
}

// badParamRE matches the gocloud.dev drivers' refusal of a query parameter
// they do not know (their wording as of v0.47).
var badParamRE = regexp.MustCompile(`(?:unknown|invalid) query parameter ("[^"]*")`)

// badParam turns a driver's refusal of a query parameter into a *URLError,
// since the parameter is the user's to fix: most often a credential given
// in the URL (access_key=, access_token=, sig=). Other errors pass through.
// err must already be scrubbed.
func badParam(scheme, display string, err error) error {
	m := badParamRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	return &URLError{URL: display, Problem: "the " + scheme + ":// driver has no query parameter " + m[1],
		Hint: "give credentials through the provider's environment (e.g. AWS_ACCESS_KEY_ID, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_SAS_TOKEN) or workload identity, never in the URL"}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// URLParseProblem is the reason url.Parse gave for err, without the URL it
// quotes, and without the quoted fragment of an escape or host error:
// either may be part of a password. The config file's URLs use it too.
func URLParseProblem(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var esc url.EscapeError
	var host url.InvalidHostError
	switch {
	case errors.As(err, &esc):
		return "invalid %-escape (write a literal % as %25)"
	case errors.As(err, &host):
		return "invalid character in host"
	}
	return err.Error()
}
