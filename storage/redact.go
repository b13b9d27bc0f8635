package storage

import (
	"net/url"
	"slices"
	"strings"
)

// shownParams are the query parameters whose values messages may show: they
// say where a bucket is and how to reach it, and hold no secret. Any other
// parameter, known to a driver or not, is shown as REDACTED: a driver may
// learn a credential parameter in a later version, and a typo'd one
// (secret_key=) is most likely a credential. A URL inside a shown value
// (endpoint=http://user:pass@host) is redacted in turn.
var shownParams = []string{
	// s3 (gocloud.dev/aws and s3blob)
	"region", "endpoint", "profile", "awssdk", "use_path_style", "s3ForcePathStyle",
	"disable_https", "disableSSL", "dualstack", "fips", "accelerate", "anonymous",
	"hostname_immutable", "rate_limiter_capacity", "request_checksum_calculation",
	"response_checksum_validation", "ssetype",
	// s3, read by rdbak itself (s3upload.go)
	paramS3PartSize, paramS3Concurrency,
	// gs
	"grpc", "zonal",
	// azblob
	"domain", "protocol", "cdn", "localemu", "storage_account",
	// file
	"create_dir", "metadata", "no_tmp_dir", "dir_file_mode",
	// rdbak
	"prefix",
}

const redacted = "REDACTED"

// Redact returns rawURL fit for a message, as redact does, for URLs rdbak
// shows outside a Repo (a Redis URL in an error, a storage URL in a plan).
func Redact(rawURL string) string { return redact(rawURL) }

// redact returns rawURL for messages and manifests: without user info and
// fragment, with the value of every query parameter not in shownParams
// replaced, and with URLs nested in the shown values redacted too. A URL
// that does not parse is not shown at all.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparseable URL>"
	}
	s := redactParsed(u, 0)
	if u.Scheme != "" && u.Host == "" && strings.HasPrefix(rawURL, u.Scheme+"://") && !strings.HasPrefix(s, u.Scheme+"://") {
		s = u.Scheme + "://" + strings.TrimPrefix(s, u.Scheme+":") // url.URL writes mem:// as mem:
	}
	return s
}

func redactParsed(u *url.URL, depth int) string {
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	if u.Opaque != "" && depth > 0 {
		u.Opaque = redacted
	}
	// user:password@host:port, the scheme forgotten, parses as scheme
	// "user" and an opaque password@host:port.
	if i := strings.LastIndex(u.Opaque, "@"); i >= 0 {
		u.Opaque = redacted + u.Opaque[i:]
	}
	if u.RawQuery == "" {
		return u.String()
	}
	q := displayQuery(u.RawQuery)
	for k, vs := range q {
		for i, v := range vs {
			switch {
			case !slices.Contains(shownParams, k):
				vs[i] = redacted
			case strings.Contains(v, "://") || strings.Contains(v, "@"):
				vs[i] = redactNested(v, depth)
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// displayQuery parses a query for redactParsed. Unlike url.ParseQuery it
// drops no pair it cannot read, so that the message about a malformed
// query still shows the pair: a name or value that does not unescape is
// REDACTED, as is the name of a pair without '=' that no driver knows (it
// may be a stray part of a secret); and ';' separates pairs as '&' does,
// so that a shown value never carries the pair after it.
func displayQuery(raw string) url.Values {
	q := url.Values{}
	for _, pair := range strings.FieldsFunc(raw, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, eq := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil || !eq && !isParam(name) {
			name = redacted
		}
		value, err := url.QueryUnescape(v)
		if err != nil {
			value = redacted
		}
		q.Add(name, value)
	}
	return q
}

// redactNested redacts a URL given as a parameter's value.
func redactNested(v string, depth int) string {
	if depth > 2 {
		return redacted
	}
	n, err := url.Parse(v)
	if err != nil || n.Scheme == "" && n.Host == "" {
		if strings.Contains(v, "@") {
			return redacted
		}
		return v
	}
	return redactParsed(n, depth+1)
}

// secrets returns what redact hides in rawURL, each as written and as
// escaped, for scrubbing driver errors that quote the URL or its parts.
// Values shorter than 4 characters are left out: they are not credentials,
// and replacing them would garble messages.
func secrets(rawURL string) []string {
	var out []string
	add := func(s string) {
		if len(s) < 4 {
			return
		}
		for _, f := range []string{s, url.QueryEscape(s), url.PathEscape(s), (&url.URL{Path: s}).String()} {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	var walk func(string, int)
	walk = func(raw string, depth int) {
		u, err := url.Parse(raw)
		if err != nil || depth > 3 {
			add(raw)
			return
		}
		if u.User != nil {
			add(u.User.Username())
			p, _ := u.User.Password()
			add(p)
			add(u.User.String())
		}
		add(u.Fragment)
		if depth > 0 && u.Opaque != "" {
			add(u.Opaque)
		}
		for k, vs := range u.Query() {
			for _, v := range vs {
				switch {
				case !slices.Contains(shownParams, k):
					add(v)
				case strings.Contains(v, "://") || strings.Contains(v, "@"):
					walk(v, depth+1)
				}
			}
		}
	}
	walk(rawURL, 0)
	// The longest first, so that a secret containing another is replaced whole.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// scrubber removes a storage URL's secrets from error messages. Drivers
// quote the URL they were given (gocloud.dev's "open bucket <url>: unknown
// query parameter ...") and sometimes parameter values.
type scrubber struct {
	replace *strings.Replacer
}

// newScrubber returns a scrubber for the URLs (the one the user gave and
// the ones derived from it and handed to the driver). Each is replaced by
// its redacted form, and every secret in them by REDACTED.
func newScrubber(display string, urls ...string) *scrubber {
	type pair struct{ old, new string }
	var pairs []pair
	seen := map[string]bool{}
	for _, u := range urls {
		if u != "" && !seen[u] {
			seen[u] = true
			pairs = append(pairs, pair{u, display})
		}
		for _, s := range secrets(u) {
			if !seen[s] {
				seen[s] = true
				pairs = append(pairs, pair{s, redacted})
			}
		}
	}
	// strings.Replacer tries the old strings in argument order: the longest
	// first, so that a whole URL is replaced before a secret inside it.
	slices.SortStableFunc(pairs, func(a, b pair) int { return len(b.old) - len(a.old) })
	var args []string
	for _, p := range pairs {
		args = append(args, p.old, p.new)
	}
	return &scrubber{replace: strings.NewReplacer(args...)}
}

// err returns err with every secret removed from its message. The result
// still matches err's sentinels and types through errors.Is and errors.As;
// only its text changes.
func (s *scrubber) err(err error) error {
	if err == nil || s == nil {
		return err
	}
	return &scrubbedError{msg: s.replace.Replace(err.Error()), err: err}
}

// scrubbedError carries a cleaned message over the original error chain.
// Unwrap keeps errors.Is and errors.As working; whoever prints an unwrapped
// inner error bypasses the scrubbing, so nothing in rdbak does.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
