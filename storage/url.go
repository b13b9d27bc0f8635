package storage

import (
	"errors"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
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
// of the URL but the scheme, a file path and a parameter's name.
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

// parseURL checks rawURL and returns it parsed, with its key prefix (the
// path of a non-file URL, or ?prefix=) as ?prefix=dir/ and its query
// re-encoded.
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
		if err := checkFileURL(u, bad); err != nil {
			return nil, err
		}
	case u.Scheme != "mem" && u.Host == "":
		return nil, bad("missing the bucket or container name", urlHint)
	}
	q, problem := parseQuery(u.RawQuery)
	if problem != "" {
		return nil, bad("malformed query string: "+problem, "write each parameter as name=value, separated by &; escape a literal %, & or ; in a value as %25, %26 or %3B")
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(driverParams[u.Scheme], name) && name != paramPrefix {
			problem, hint := unknownParam(u.Scheme, name)
			return nil, bad(problem, hint)
		}
	}
	if u.Scheme == "s3" {
		if _, err := takeS3Upload(maps.Clone(q)); err != nil {
			return nil, bad(err.Error(), s3UploadHint)
		}
		if ep := q.Get("endpoint"); ep != "" {
			if e, err := url.Parse(ep); err != nil || e.Scheme != "http" && e.Scheme != "https" || e.Host == "" {
				return nil, bad("endpoint needs http:// or https://", "e.g. endpoint=http://127.0.0.1:9000; leave it out for AWS")
			}
		}
	}
	if problem, hint := movePrefix(u, q); problem != "" {
		return nil, bad(problem, hint)
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// movePrefix sets q's ?prefix= to the key prefix, the path of a non-file
// URL or ?prefix=, as dir/: the drivers prepend it to keys as it is, so
// ?prefix=np kept target q under npq/, and a file URL's ?prefix=/np/
// wrote where listing never looked. A segment that is empty, '.' or '..'
// is refused: a driver may resolve it away (file://) or not (s3://).
func movePrefix(u *url.URL, q url.Values) (problem, hint string) {
	prefix := q.Get(paramPrefix)
	if u.Scheme != "file" {
		if p := strings.Trim(u.Path, "/"); p != "" {
			if prefix != "" {
				return "has both a path and ?prefix=", "use one of them for the key prefix"
			}
			prefix = p
		}
		u.Path, u.RawPath = "", ""
	}
	q.Del(paramPrefix)
	if prefix = strings.Trim(prefix, "/"); prefix == "" {
		return "", ""
	}
	if slices.ContainsFunc(strings.Split(prefix, "/"), func(s string) bool { return s == "" || s == "." || s == ".." }) {
		return "the key prefix has an empty, '.' or '..' segment", "write it as dir or dir/sub, within the bucket (a file URL's ?prefix= is within its directory)"
	}
	q.Set(paramPrefix, prefix+"/")
	return "", ""
}

// parseQuery parses a storage URL's query as url.ParseQuery does, but
// refuses what ParseQuery drops or keeps silently: a ';', a bad %-escape,
// a pair without '=', a parameter given twice. A dropped endpoint= sends
// requests to AWS itself. The problem names a parameter only when a driver
// knows it: a malformed pair may be part of a secret.
func parseQuery(raw string) (url.Values, string) {
	q := url.Values{}
	for i, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, eq := strings.Cut(pair, "=")
		name, kerr := url.QueryUnescape(k)
		value, verr := url.QueryUnescape(v)
		what := "parameter " + strconv.Itoa(i+1)
		if kerr == nil && isParam(name) {
			what = quote(name)
		}
		switch {
		case strings.Contains(pair, ";"):
			return nil, what + " has a ';'"
		case kerr != nil || verr != nil:
			return nil, what + " has an invalid %-escape"
		case !eq:
			return nil, what + " has no '='"
		case q.Has(name):
			return nil, what + " is given twice"
		}
		q.Set(name, value)
	}
	return q, ""
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

// paramPrefix is the query parameter of a key prefix within the bucket;
// gocloud.dev's URL mux takes it for every scheme.
const paramPrefix = "prefix"

// driverParams are the query parameters each scheme's driver accepts
// (gocloud.dev v0.47: aws.V2ConfigFromURLParams and s3blob, gcsblob,
// azureblob, fileblob; memblob takes none), with rdbak's own. parseURL
// refuses any other, so that CheckURL refuses what Open would, without
// opening anything. TestDriverParams checks the drivers still take them.
var driverParams = map[string][]string{
	"s3": {"region", "endpoint", "profile", "role", "anonymous", "hostname_immutable",
		"dualstack", "fips", "rate_limiter_capacity", "request_checksum_calculation",
		"response_checksum_validation", "awssdk",
		"ssetype", "kmskeyid", "accelerate", "use_path_style", "s3ForcePathStyle", "disable_https",
		paramS3PartSize, paramS3Concurrency},
	"gs":     {"anonymous", "access_id", "private_key_path", "universe_domain", "grpc", "zonal"},
	"azblob": {"domain", "protocol", "cdn", "localemu", "storage_account"},
	"file":   {"create_dir", "dir_file_mode", "metadata", "no_tmp_dir", "base_url", "secret_key_path"},
}

// isParam reports whether some driver knows the parameter name.
func isParam(name string) bool {
	for _, names := range driverParams {
		if slices.Contains(names, name) {
			return true
		}
	}
	return name == paramPrefix
}

// credentialRE matches the names of credential parameters users try:
// access_key, secret_key, session_token, password, an Azure SAS token's
// sig, sv, se, sp, ...
var credentialRE = regexp.MustCompile(`(?i)key|secret|token|passw|cred|sig|^s[a-z]{1,2}$`)

// unknownParam says that the scheme's driver has no parameter name, and
// what to write instead: the known parameter it is most likely a misspelling
// of, or, for a credential, where credentials go.
func unknownParam(scheme, name string) (problem, hint string) {
	problem = "the " + scheme + ":// driver has no query parameter " + quote(name)
	known := append([]string{paramPrefix}, driverParams[scheme]...)
	switch near := nearest(name, known); {
	case near != "":
		return problem, "did you mean " + near + "=?"
	case credentialRE.MatchString(name):
		return problem, "give credentials through the provider's environment (e.g. AWS_ACCESS_KEY_ID, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_SAS_TOKEN) or workload identity, never in the URL"
	}
	return problem, scheme + ":// takes " + strings.Join(known, ", ")
}

// nearest returns the name in known that name most likely misspells, or
// "": compared in lower case without '-' and '_', one within an edit
// distance of 2 and of less than half name's length.
func nearest(name string, known []string) string {
	fold := strings.NewReplacer("-", "", "_", "")
	n := strings.ToLower(fold.Replace(name))
	best, bestDist := "", 3
	for _, k := range known {
		d := editDistance(n, strings.ToLower(fold.Replace(k)))
		if d < bestDist && 2*d < len(n) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
