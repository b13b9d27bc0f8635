package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// Codec names a compression format for backup objects.
type Codec string

// The codecs rdbak writes.
const (
	CodecZstd Codec = "zstd"
	CodecGzip Codec = "gzip"
	CodecNone Codec = "none"
)

// SourceKind says how rdbak obtains the RDB snapshot of a target.
type SourceKind string

// The snapshot sources.
const (
	// SourceReplication pulls a fresh RDB over the replication protocol,
	// as a replica would: it needs only network access to Redis.
	SourceReplication SourceKind = "replication"
	// SourceFile triggers BGSAVE and reads the dump file beside the server.
	SourceFile SourceKind = "file"
)

// File is one parsed rdbak.yaml. Fields hold the values after ${ENV}
// expansion and defaults.
type File struct {
	// Storage is the default blob storage URL for all targets
	// (gocloud.dev/blob: s3://, gs://, azblob://, file:///path; storage.CheckURL).
	// The file may give it as a StorageSpec mapping, folded into the URL.
	Storage     string      `yaml:"storage" rdbak:"storage"`
	Compression Compression `yaml:"compression"`
	Targets     []Target    `yaml:"targets"`
	// Defaults are inherited by targets that do not set their own
	// schedule, jitter, timeout or retention.
	Defaults Defaults `yaml:"defaults"`
	// Daemon configures rdbak daemon.
	Daemon Daemon `yaml:"daemon"`

	path   string            // the file name shown in messages
	origin map[string]origin // document path -> where it came from
}

// Compression configures how backup objects are compressed.
type Compression struct {
	// Codec is zstd (default), gzip or none.
	Codec Codec `yaml:"codec"`
	// Level is a speed/size trade-off, in internal/codec's terms: for zstd
	// fastest (default), default, better or best; for gzip 1..9, fastest,
	// default (default) or best. Empty for none.
	Level string `yaml:"level"`
	// Concurrency is how many zstd frames are encoded at once, each on a
	// goroutine and with about 2 MiB of memory of its own. zstd only.
	Concurrency int `yaml:"concurrency"`
}

// Target is one Redis server to back up.
type Target struct {
	// Name identifies the target in commands, metrics and object keys.
	Name string `yaml:"name"`
	// Schedule is when rdbak daemon backs the target up: a cron spec
	// (schedule.ParseSpec). Unset: defaults.schedule; set to "" (or unset
	// there too): the target is backed up only by rdbak now.
	Schedule string `yaml:"schedule"`
	// Jitter delays each scheduled run by a random amount below it, so
	// that many targets on one schedule do not all start at once.
	Jitter time.Duration `yaml:"jitter"`
	// Retention says which backups to keep; defaults.retention if unset.
	Retention Retention `yaml:"retention"`
	// Heartbeat is called after each successful backup.
	Heartbeat Heartbeat `yaml:"heartbeat"`
	// Redis is a redis:// or rediss:// (TLS) URL: host and port only,
	// optionally with user[:password]@.
	Redis string `yaml:"redis"`
	// Username is the ACL user; it may instead be given in the Redis URL.
	Username string `yaml:"username"`
	// PasswordFile is read by Password at connection time (mounted secrets
	// rotate). A relative path is relative to the config file.
	PasswordFile string `yaml:"passwordFile"`
	// PasswordEnv names the environment variable holding the password.
	PasswordEnv string `yaml:"passwordEnv"`
	// Source is replication (default) or file.
	Source SourceKind `yaml:"source"`
	// Dir overrides CONFIG GET dir for the file source, for servers where
	// CONFIG is renamed or disabled.
	Dir string `yaml:"dir"`
	// DBFilename overrides CONFIG GET dbfilename for the file source.
	DBFilename string `yaml:"dbfilename"`
	// Timeout bounds one whole backup of this target; 0 means no limit.
	Timeout time.Duration `yaml:"timeout"`
	// Kubernetes names a Redis running in a cluster, instead of Redis.
	Kubernetes *KubeTarget `yaml:"kubernetes"`
	// Sentinel names a replication set by its Sentinels and master name,
	// instead of Redis: rdbak asks them for the master and its replicas.
	// Username and the password fields above authenticate to the data
	// nodes; the Sentinels have their own.
	Sentinel *SentinelTarget `yaml:"sentinel"`
	// Storage overrides File.Storage for this target. After Load it holds
	// the effective storage URL. Like File.Storage, a URL or a StorageSpec.
	Storage string `yaml:"storage" rdbak:"storage"`
	// Encryption encrypts this target's backups; defaults.encryption if
	// unset. A block here without recipients (or recipientsFile) keeps
	// those of defaults.encryption, with its own identities.
	Encryption Encryption `yaml:"encryption"`
	// Cluster tunes the backup of a Redis Cluster: a target that is a
	// cluster node (cluster_enabled:1) is backed up as the whole cluster.
	Cluster Cluster `yaml:"cluster"`
	// Drill configures restore drills of this target's backups; each
	// field unset here comes from defaults.drill.
	Drill Drill `yaml:"drill"`
	// Notify says whom to tell of failures; defaults.notify if unset.
	Notify Notify `yaml:"notify"`

	lookupEnv func(string) (string, bool) // for PasswordEnv; os.LookupEnv when nil
}

// Cluster tunes the backup set of a Redis Cluster target: one snapshot per
// shard, each from the node Prefer names.
type Cluster struct {
	// Concurrency bounds the shards streamed at once; 0 means
	// DefaultClusterConcurrency.
	Concurrency int `yaml:"concurrency"`
	// Stagger is the least time between two shards' snapshot starts, so
	// their forks do not coincide; 0 means DefaultClusterStagger.
	Stagger time.Duration `yaml:"stagger"`
	// Prefer is replica (default: the freshest healthy replica of each
	// shard, else its master) or master.
	Prefer string `yaml:"prefer"`
	// SingleNode backs up the target's node alone, as a partial backup
	// (the manifest says so), instead of the whole cluster.
	SingleNode bool `yaml:"singleNode"`
}

// Defaults of a cluster backup set.
const (
	DefaultClusterConcurrency = 2
	DefaultClusterStagger     = 2 * time.Second
)

// Load reads the config file at path, expands ${ENV} from the process
// environment, decodes it strictly, applies defaults and validates it.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path, os.LookupEnv)
}

// Parse is Load on bytes already read. name is the file name used in error
// messages and as the base of relative paths; env looks up environment
// variables for ${NAME} expansion and for Target.Password. Decoding errors
// (syntax, unknown or mistyped fields) are reported before, and instead of,
// validation errors; each is a *FieldError, several are joined.
func Parse(data []byte, name string, env func(string) (string, bool)) (*File, error) {
	f := &File{path: name, origin: map[string]origin{}}
	if err := decodeFile(f, data, env); err != nil {
		return nil, err
	}
	f.applyDefaults(env)
	if err := f.Validate(); err != nil {
		return nil, err
	}
	f.applyScheduleDefaults()
	return f, nil
}

func (f *File) applyDefaults(env func(string) (string, bool)) {
	c := &f.Compression
	if c.Codec == "" {
		c.Codec = CodecZstd
	}
	if c.Level == "" {
		switch c.Codec {
		case CodecZstd:
			c.Level = "fastest" // backups run while Redis serves; spend little CPU
		case CodecGzip:
			c.Level = "default"
		}
	}
	if c.Concurrency == 0 && c.Codec == CodecZstd {
		c.Concurrency = min(2, runtime.GOMAXPROCS(0))
	}
	for i := range f.Targets {
		t := &f.Targets[i]
		t.lookupEnv = env
		switch {
		case t.Source != "":
		case t.Sentinel != nil:
			t.Source = SourceReplication
		case t.Kubernetes != nil:
			// In a pod, BGSAVE and streaming the dump through exec needs
			// no replication ACLs; replication stays available.
			t.Source = SourceFile
		default:
			t.Source = SourceReplication
		}
		if t.Storage == "" {
			t.Storage = f.Storage
		}
		if t.PasswordFile != "" && !filepath.IsAbs(t.PasswordFile) {
			t.PasswordFile = filepath.Join(filepath.Dir(f.path), t.PasswordFile)
		}
		if s := t.Sentinel; s != nil {
			s.lookupEnv = env
			if s.PasswordFile != "" && !filepath.IsAbs(s.PasswordFile) {
				s.PasswordFile = filepath.Join(filepath.Dir(f.path), s.PasswordFile)
			}
		}
		f.relative(&t.Encryption)
		f.relativeServers(&t.Drill)
	}
	f.relative(&f.Defaults.Encryption)
	f.relativeServers(&f.Defaults.Drill)
}

// relative makes the key file paths of e relative to the config file.
func (f *File) relative(e *Encryption) {
	for _, p := range []*string{&e.RecipientsFile, &e.IdentityFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(filepath.Dir(f.path), *p)
		}
	}
}

// Encryption configures client-side encryption at rest with age: backups
// are encrypted to the recipients (public keys), and verify and restore
// decrypt them with the identity (a private key). Only public keys are
// recorded in manifests.
type Encryption struct {
	// Recipients are age public keys (age1...) or SSH public keys
	// (ssh-ed25519, ssh-rsa). New backups are encrypted to all of them.
	Recipients []string `yaml:"recipients"`
	// RecipientsFile holds recipients one a line (age -R format), read at
	// each backup. A relative path is relative to the config file.
	RecipientsFile string `yaml:"recipientsFile"`
	// IdentityFile holds the age identities (age-keygen output) or an SSH
	// private key that verify and restore decrypt with; --identity-file
	// adds more. Not needed to back up. Relative to the config file.
	IdentityFile string `yaml:"identityFile"`
	// IdentitySecret is a Secret key holding such identities, for verify
	// and restore running in Kubernetes. It is in the target's namespace
	// (kubernetes.namespace; for a target outside Kubernetes, rdbak's own)
	// and is read through the API when a backup needs decrypting, never
	// written anywhere. Tried with identityFile and --identity-file.
	IdentitySecret *SecretRef `yaml:"identitySecret"`
}

// Encrypts reports whether backups are to be encrypted.
func (e Encryption) Encrypts() bool { return len(e.Recipients) > 0 || e.RecipientsFile != "" }

func (e Encryption) set() bool {
	return e.Encrypts() || e.IdentityFile != "" || e.IdentitySecret != nil
}

// Target returns the target called name. An empty name selects the only
// target, so single-target setups need no --target flag.
func (f *File) Target(name string) (*Target, error) {
	names := make([]string, len(f.Targets))
	for i := range f.Targets {
		names[i] = f.Targets[i].Name
		if name != "" && f.Targets[i].Name == name {
			return &f.Targets[i], nil
		}
	}
	switch {
	case len(f.Targets) == 0:
		return nil, errors.New("select target: the config has no targets")
	case name == "" && len(f.Targets) == 1:
		return &f.Targets[0], nil
	case name == "":
		return nil, fmt.Errorf("select target: the config has %d targets, name one of: %s", len(names), strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("select target: no target %q, the config has: %s", name, strings.Join(names, ", "))
}

// Warnings returns advice about settings that work but are risky, for the
// command to log at startup.
func (f *File) Warnings() []string {
	var w []string
	for i, t := range f.Targets {
		if u, err := url.Parse(t.Redis); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				w = append(w, fmt.Sprintf("targets[%d].redis: the password is in the URL, where it shows in the config file and its history; prefer passwordFile or passwordEnv", i))
			}
		}
	}
	// In a file that schedules backups, a target without a schedule is
	// most likely a slip, and the daemon exports its metrics as if it
	// were monitored. A file that schedules none is for rdbak now (a
	// CronJob), or for a daemon that only drills.
	if !f.schedulesBackups() {
		return w
	}
	for i, t := range f.Targets {
		if t.Schedule == "" {
			w = append(w, fmt.Sprintf("targets[%d] (%s) has no schedule: the daemon will not back it up; set its schedule or defaults.schedule, e.g. \"@daily\"", i, t.Name))
		}
	}
	return w
}

// schedulesBackups reports whether any target has a backup schedule.
func (f *File) schedulesBackups() bool {
	for _, t := range f.Targets {
		if t.Schedule != "" {
			return true
		}
	}
	return false
}

// readPassword reads a password from file or the env variable; ok is
// false when neither is set. Errors name the fields (prefix, e.g.
// "sentinel."), never the secret.
func readPassword(of, prefix, file, env string, lookup func(string) (string, bool)) (string, bool, error) {
	switch {
	case file != "":
		fh, err := os.Open(file)
		if err != nil {
			return "", true, fmt.Errorf("read %spasswordFile of %s: %w", prefix, of, err)
		}
		defer fh.Close()
		b, err := io.ReadAll(io.LimitReader(fh, maxPasswordFile+1))
		if err != nil {
			return "", true, fmt.Errorf("read %spasswordFile of %s: %w", prefix, of, err)
		}
		if len(b) > maxPasswordFile {
			return "", true, fmt.Errorf("read %spasswordFile of %s: %s is larger than %d bytes, not a password", prefix, of, file, maxPasswordFile)
		}
		p, ok := strings.CutSuffix(string(b), "\r\n")
		if !ok {
			p = strings.TrimSuffix(p, "\n")
		}
		if p == "" {
			return "", true, fmt.Errorf("read %spasswordFile of %s: %s is empty", prefix, of, file)
		}
		return p, true, nil
	case env != "":
		if lookup == nil {
			lookup = os.LookupEnv
		}
		p, ok := lookup(env)
		if !ok || p == "" {
			return "", true, fmt.Errorf("read %spasswordEnv of %s: environment variable %s is unset or empty", prefix, of, env)
		}
		return p, true, nil
	}
	return "", false, nil
}

// maxPasswordFile bounds what Password reads, so a mistaken path such as
// /dev/zero fails instead of filling memory.
const maxPasswordFile = 64 << 10

// Password returns the target's Redis password, read now from passwordFile
// (without one trailing newline), the passwordEnv variable, or the URL.
// It returns "" when none is configured. Errors name the field, never the
// secret.
func (t *Target) Password() (string, error) {
	if p, ok, err := readPassword("target "+fmt.Sprintf("%q", t.Name), "", t.PasswordFile, t.PasswordEnv, t.lookupEnv); ok || err != nil {
		return p, err
	}
	u, err := url.Parse(t.Redis)
	if err != nil {
		return "", fmt.Errorf("parse redis URL of target %q: %w", t.Name, urlErr(err))
	}
	p, _ := u.User.Password()
	return p, nil
}

// User returns the ACL user name from username or the Redis URL; "" means
// the default user.
func (t *Target) User() string {
	if t.Username != "" {
		return t.Username
	}
	if u, err := url.Parse(t.Redis); err == nil {
		return u.User.Username()
	}
	return ""
}

// Endpoint returns the host:port to dial (port 6379 when the URL has none)
// and whether the URL asks for TLS (rediss://).
func (t *Target) Endpoint() (addr string, useTLS bool, err error) {
	if BareAddr(t.Redis) {
		return "", false, fmt.Errorf("redis URL of target %q: %s has no scheme: use redis://%s, or rediss:// for TLS", t.Name, t.Redis, t.Redis)
	}
	u, err := url.Parse(t.Redis)
	if err != nil {
		return "", false, fmt.Errorf("parse redis URL of target %q: %w", t.Name, urlErr(err))
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" || u.Hostname() == "" {
		return "", false, fmt.Errorf("redis URL of target %q: use redis://[user[:password]@]host:port, or rediss:// for TLS", t.Name)
	}
	port := u.Port()
	if port == "" {
		port = "6379"
	}
	return net.JoinHostPort(u.Hostname(), port), u.Scheme == "rediss", nil
}

// urlErr is url.Parse's error without the URL or the fragment it quotes
// (either may hold a password).
// BareAddr reports whether raw is a host:port with no scheme, the usual
// slip for a Redis URL; it holds no secret, so messages may show it.
func BareAddr(raw string) bool {
	_, _, err := net.SplitHostPort(raw)
	return err == nil && !strings.ContainsAny(raw, "/@")
}

func urlErr(err error) error { return errors.New(storage.URLParseProblem(err)) }
