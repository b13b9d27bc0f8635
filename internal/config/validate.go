package config

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/storage"
)

// FieldError is one problem with one field of a config file. Validate and
// Parse join several of them with errors.Join.
type FieldError struct {
	File  string // file name as given to Load or Parse; "" when unknown
	Line  int    // 1-based; 0 when unknown
	Field string // document path, e.g. "targets[1].passwordFile"; "" for the whole file
	Msg   string
	Hint  string // what to do about it; may be ""
}

func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString("\n\thint: " + e.Hint)
	}
	return b.String()
}

const storageHint = "e.g. file:///var/backups/rdbak or s3://bucket/prefix?region=..."

// targetName keeps names usable as one object-key path segment and as a
// Kubernetes label value.
var targetName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$`)

const maxTargetName = 63

// maxConcurrency is far beyond what zstd gains from; a larger value is a typo.
const maxConcurrency = 256

// Validate reports every problem in f at once, joined; each is a *FieldError
// naming the field and, for a parsed file, its line. It checks syntax and
// consistency only: it opens no files and dials nothing. Empty codec, level
// and source mean their defaults, so a File built in code validates too.
func (f *File) Validate() error {
	v := &validator{f: f}
	v.storage()
	v.compression()
	v.targets()
	v.schedules()
	v.encryption("defaults.encryption", v.f.Defaults.Encryption, false)
	for i, t := range v.f.Targets {
		v.encryption(fmt.Sprintf("targets[%d].encryption", i), t.Encryption, v.f.Defaults.Encryption.Encrypts())
	}
	return errors.Join(v.errs...)
}

type validator struct {
	f    *File
	errs []error
}

// fail records a problem at path, locating it at the nearest enclosing field
// that appeared in the file (a missing field is reported at its parent).
func (v *validator) fail(path, msg, hint string) {
	line := 0
	for p := path; p != ""; p = parent(p) {
		if o, ok := v.f.origin[p]; ok {
			line = o.line
			break
		}
	}
	v.errs = append(v.errs, &FieldError{File: v.f.path, Line: line, Field: path, Msg: msg, Hint: hint})
}

// show quotes the value at path for a message, unless it came from the
// environment.
func (v *validator) show(path, s string) string {
	return show(s, v.f.origin[path].env)
}

func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func (v *validator) storage() {
	f := v.f
	var without []string
	for _, t := range f.Targets {
		if t.Storage == "" {
			without = append(without, strconv.Quote(t.Name))
		}
	}
	switch {
	case f.Storage != "":
		v.storageURL("storage", f.Storage)
	case len(f.Targets) == 0:
		v.fail("storage", "missing", "set the URL where backups go, "+storageHint)
	case len(without) > 0:
		v.fail("storage", "missing, and targets "+strings.Join(without, ", ")+" set no storage of their own", "set the URL where backups go, "+storageHint)
	}
	for i, t := range f.Targets {
		if t.Storage != "" && t.Storage != f.Storage {
			v.storageURL(fmt.Sprintf("targets[%d].storage", i), t.Storage)
		}
	}
}

// storageURL checks a blob URL with the check Open makes, so that the file
// and --storage accept the same URLs. It never shows the URL: some carry
// keys.
func (v *validator) storageURL(path, s string) {
	err := storage.CheckURL(s, storage.Options{})
	var ue *storage.URLError
	switch {
	case err == nil:
	case errors.As(err, &ue) && ue.Scheme != "":
		v.fail(path, ue.Problem+" "+v.show(path, ue.Scheme), ue.Hint)
	case errors.As(err, &ue):
		v.fail(path, ue.Problem, ue.Hint)
	default:
		v.fail(path, err.Error(), storageHint)
	}
}

func (v *validator) compression() {
	c := v.f.Compression
	switch c.Codec {
	case "", CodecZstd:
		switch c.Level {
		case "", "fastest", "default", "better", "best":
		default:
			v.fail("compression.level", "unknown zstd level "+v.show("compression.level", c.Level),
				"use fastest, default, better or best (roughly zstd -1, -3, -7 and -11)")
		}
		if c.Concurrency < 0 || c.Concurrency > maxConcurrency {
			v.fail("compression.concurrency", fmt.Sprintf("must be between 1 and %d", maxConcurrency), "omit it for min(2, CPUs)")
		}
		return
	case CodecGzip:
		if !gzipLevel(c.Level) {
			v.fail("compression.level", "unknown gzip level "+v.show("compression.level", c.Level), "use 1..9, fastest, default or best")
		}
	case CodecNone:
		if c.Level != "" {
			v.fail("compression.level", "set, but codec is none", "remove level, or pick codec zstd or gzip")
		}
	default:
		v.fail("compression.codec", "unknown codec "+v.show("compression.codec", string(c.Codec)), "use zstd (default), gzip or none")
		return
	}
	if c.Concurrency != 0 {
		v.fail("compression.concurrency", "only zstd uses concurrency", "remove it, or use codec zstd")
	}
}

// encryption checks that the recipients parse as age or SSH public keys,
// and that a block written in the file encrypts: to its own recipients,
// or to those it inherits (inherited). It opens no file: recipientsFile
// and identityFile are read when used.
func (v *validator) encryption(path string, e Encryption, inherited bool) {
	if len(e.Recipients) > 0 && e.RecipientsFile != "" {
		v.fail(path+".recipientsFile", "set together with recipients", "give the public keys either inline or in a file")
	}
	for i, r := range e.Recipients {
		p := fmt.Sprintf("%s.recipients[%d]", path, i)
		if _, err := crypt.ParseRecipient(r); err != nil {
			// Never show the value: it may be a private key pasted by mistake.
			v.fail(p, err.Error(), "e.g. age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p (age-keygen -y KEYFILE prints it)")
		}
	}
	if s := e.IdentitySecret; s != nil && (s.Name == "" || s.Key == "") {
		v.fail(path+".identitySecret", "needs both name and key", "e.g. identitySecret: {name: rdbak-identity, key: identity}")
	}
	_, listed := v.f.origin[path+".recipients"]
	switch {
	case e.Encrypts():
	case listed:
		v.fail(path+".recipients", "empty: backups would not be encrypted", "list at least one public key, or remove encryption")
	case v.f.isSet(path, e.set()) && !inherited:
		// An empty block, or one with identities only, reads as
		// encryption on while every backup would be plaintext.
		v.fail(path, "no recipients: backups would be written unencrypted",
			"add recipients (age-keygen -y KEYFILE prints one) or recipientsFile, or remove the encryption block to back up unencrypted (verify and restore take --identity-file)")
	}
}

// gzipLevel reports whether s is a gzip level internal/codec accepts.
func gzipLevel(s string) bool {
	switch s {
	case "", "fastest", "default", "best":
		return true
	}
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 9
}

func (v *validator) targets() {
	if len(v.f.Targets) == 0 {
		v.fail("targets", "at least one target is required", "add e.g. targets: [{name: cache, redis: redis://127.0.0.1:6379}]")
		return
	}
	first := map[string]int{}
	for i := range v.f.Targets {
		t := &v.f.Targets[i]
		p := fmt.Sprintf("targets[%d]", i)
		v.name(p+".name", t.Name)
		if j, dup := first[t.Name]; dup && t.Name != "" {
			v.fail(p+".name", fmt.Sprintf("%q is also the name of targets[%d]", t.Name, j), "give every target a different name")
		} else {
			first[t.Name] = i
		}
		switch {
		case t.Sentinel != nil && (t.Redis != "" || t.Kubernetes != nil && t.Sentinel.Kubernetes == nil):
			v.fail(p+".sentinel", "set together with redis, or with kubernetes but Sentinels given by addresses", "a target is a redis URL, a kubernetes workload or a sentinel set (in Kubernetes: kubernetes names the data pods, sentinel.kubernetes the Sentinels)")
		case t.Sentinel != nil:
			v.sentinel(p, t)
			if t.Kubernetes != nil {
				v.kubernetes(p, t)
			}
		case t.Kubernetes != nil && t.Redis != "":
			v.fail(p+".redis", "set together with kubernetes", "a target is either a redis URL or a kubernetes workload")
		case t.Kubernetes != nil:
			v.kubernetes(p, t)
		default:
			v.redis(p, t)
		}
		v.target(p, t)
	}
}

func (v *validator) name(path, name string) {
	switch {
	case name == "":
		v.fail(path, "missing", "name the target, e.g. cache or sessions-eu")
	case len(name) > maxTargetName:
		v.fail(path, fmt.Sprintf("longer than %d characters", maxTargetName), "use a shorter name")
	case !targetName.MatchString(name):
		v.fail(path, "invalid name "+v.show(path, name), "use lower-case letters, digits, '.', '_' and '-', starting and ending with a letter or digit")
	}
}

const redisHint = "e.g. redis://127.0.0.1:6379 or rediss://redis.example:6380"

// redis checks the Redis URL and how it combines with the auth fields. It
// never shows the URL, which may hold a password, but a bare host:port.
func (v *validator) redis(p string, t *Target) {
	path := p + ".redis"
	if t.Redis == "" {
		v.fail(path, "missing", redisHint)
		return
	}
	if BareAddr(t.Redis) {
		v.fail(path, t.Redis+" has no scheme", "use redis://"+t.Redis+", or rediss:// for TLS")
		return
	}
	u, err := url.Parse(t.Redis)
	if err != nil {
		v.fail(path, "not a valid URL: "+urlErr(err).Error(), redisHint)
		return
	}
	port := u.Port()
	n, perr := strconv.Atoi(port)
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss":
		v.fail(path, "the scheme must be redis:// or rediss:// (TLS)", redisHint)
	case u.Hostname() == "":
		v.fail(path, "missing the host", redisHint)
	case port != "" && (perr != nil || n < 1 || n > 65535):
		v.fail(path, "invalid port", redisHint)
	case u.Path != "" && u.Path != "/":
		v.fail(path, "a database number (/N) is not supported", "rdbak backs up every database of the server; remove the path")
	case u.RawQuery != "" || u.Fragment != "":
		v.fail(path, "URL options (?... or #...) are not supported", "set username, passwordFile or passwordEnv as fields of the target")
	}
	if u.User != nil {
		if u.User.Username() != "" && t.Username != "" {
			v.fail(p+".username", "also set in the redis URL", "keep one of them")
		}
		if _, ok := u.User.Password(); ok && (t.PasswordFile != "" || t.PasswordEnv != "") {
			v.fail(path, "has a password, and passwordFile or passwordEnv is set too", "keep one way to give the password, preferably passwordFile")
		}
	}
}

func (v *validator) target(p string, t *Target) {
	if t.PasswordFile != "" && t.PasswordEnv != "" {
		v.fail(p+".passwordEnv", "set together with passwordFile", "keep one of passwordFile and passwordEnv")
	}
	if t.PasswordEnv != "" && !envName.MatchString(t.PasswordEnv) {
		v.fail(p+".passwordEnv", "invalid variable name "+v.show(p+".passwordEnv", t.PasswordEnv), "give the variable's name, e.g. REDIS_PASSWORD, not its value")
	}
	switch t.Source {
	case "", SourceReplication:
		for _, f := range []struct{ name, val string }{{"dir", t.Dir}, {"dbfilename", t.DBFilename}} {
			if f.val != "" {
				v.fail(p+"."+f.name, "only used with source: file", "remove it, or set source: file")
			}
		}
	case SourceFile:
		if t.Dir != "" && !path.IsAbs(t.Dir) {
			v.fail(p+".dir", "must be an absolute path", "give Redis's working directory, e.g. /data")
		}
		switch {
		case strings.Contains(t.DBFilename, "/"):
			v.fail(p+".dbfilename", "must be a file name, without '/'", "put the directory in dir")
		case t.DBFilename == "." || t.DBFilename == "..":
			v.fail(p+".dbfilename", "must be a file name", "e.g. dump.rdb")
		}
	default:
		v.fail(p+".source", "unknown source "+v.show(p+".source", string(t.Source)), "use replication (default) or file")
	}
	if t.Timeout < 0 {
		v.fail(p+".timeout", "must not be negative", "omit it for no limit, or write e.g. 30m")
	}
	v.cluster(p+".cluster", t.Cluster)
}

func (v *validator) cluster(p string, c Cluster) {
	if c.Concurrency < 0 {
		v.fail(p+".concurrency", "must not be negative", fmt.Sprintf("omit it for %d shards at once, or give e.g. 3", DefaultClusterConcurrency))
	}
	if c.Stagger < 0 {
		v.fail(p+".stagger", "must not be negative", fmt.Sprintf("omit it for %s between snapshot starts, or give e.g. 10s", DefaultClusterStagger))
	}
	switch c.Prefer {
	case "", "replica", "master":
	default:
		v.fail(p+".prefer", "unknown value "+v.show(p+".prefer", c.Prefer), "use replica (default) or master")
	}
}
