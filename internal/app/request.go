package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/storage"
)

// usagef is a UsageError from a format.
func usagef(format string, a ...any) error { return UsageError{Err: fmt.Errorf(format, a...)} }

// Request is where a command's target and backups are: the global flags
// --config, --target and --storage (their environment defaults applied by
// the caller). Its methods turn them into a target, a storage URL or an
// opened repository, and say which flag is wrong when they cannot.
type Request struct {
	Config  string // config file, "" for none
	Target  string // a target of the config, or the name of an ad hoc one
	Storage string // storage URL; overrides the config's
	Log     *slog.Logger
}

// Adhoc holds the flags that describe a target without a config file.
type Adhoc struct {
	Redis        string
	PasswordFile string
	// Sentinel, MasterName and SentinelPasswordFile name a Sentinel set
	// (--sentinel, --master-name, --sentinel-password-file).
	Sentinel             string
	MasterName           string
	SentinelPasswordFile string
	Source               string
	Dir                  string
	DBFilename           string
	Codec                string
	Level                string
}

// LoadConfig loads the config file, as a usage error when it does not
// load, and logs its warnings.
func (r Request) LoadConfig() (*config.File, error) {
	f, err := config.Load(r.Config)
	if err != nil {
		return nil, UsageError{Err: err} // names the file and line already
	}
	for _, w := range f.Warnings() {
		r.Log.Warn(w, "config", r.Config)
	}
	return f, nil
}

// configTarget returns the target of f that --target names.
func (r Request) configTarget(f *config.File) (*config.Target, error) {
	t, err := f.Target(r.Target)
	if err != nil {
		return nil, UsageError{Err: fmt.Errorf("config %s: %w", r.Config, err)}
	}
	return t, nil
}

// BackupTarget returns the target to back up, its storage URL and the
// compression settings, from the config file and --target or from the ad
// hoc flags (a Redis URL, or a Kubernetes workload in k).
func (r Request) BackupTarget(a *Adhoc, k *KubeFlags) (*config.Target, string, codec.Settings, error) {
	var comp codec.Settings
	if r.Config != "" {
		if a.Redis != "" || a.PasswordFile != "" || a.Sentinel != "" || a.MasterName != "" || k.Set() {
			return nil, "", comp, usagef("--redis and --password-file describe an ad hoc target; with --config, name a target of the file with --target")
		}
		f, err := r.LoadConfig()
		if err != nil {
			return nil, "", comp, err
		}
		t, err := r.configTarget(f)
		if err != nil {
			return nil, "", comp, err
		}
		url := t.Storage
		if r.Storage != "" {
			url = r.Storage
		}
		if url == "" {
			return nil, "", comp, usagef("target %q has no storage: set storage in %s or pass --storage", t.Name, r.Config)
		}
		comp, err = OverrideCodec(codecOf(f.Compression), a.Codec, a.Level)
		return t, url, comp, err
	}
	if k.Set() {
		return r.adhocKube(a, k)
	}
	if a.Sentinel != "" || a.MasterName != "" {
		if a.Redis != "" {
			return nil, "", comp, usagef("--redis and --sentinel name different targets: give one")
		}
		if r.Storage == "" {
			return nil, "", comp, usagef("--storage is required with --sentinel, e.g. --storage file:///var/backups/rdbak")
		}
		t, err := AdhocSentinel(r.Target, a.Sentinel, a.MasterName, a.PasswordFile, a.SentinelPasswordFile)
		if err != nil {
			return nil, "", comp, err
		}
		comp, err = OverrideCodec(comp, a.Codec, a.Level)
		return t, r.Storage, comp, err
	}
	if a.Redis == "" {
		return nil, "", comp, usagef("name the Redis to back up: --redis redis://host:6379, or --pod/--statefulset/--deployment [ns/]name, with --storage URL; or --config rdbak.yaml [--target NAME]")
	}
	if r.Storage == "" {
		return nil, "", comp, usagef("--storage is required with --redis, e.g. --storage file:///var/backups/rdbak")
	}
	t := &config.Target{
		Name:         r.Target,
		Redis:        a.Redis,
		PasswordFile: a.PasswordFile,
		Source:       config.SourceReplication,
		Dir:          a.Dir,
		DBFilename:   a.DBFilename,
	}
	addr, _, err := t.Endpoint()
	if config.BareAddr(a.Redis) {
		return nil, "", comp, usagef("--redis %s has no scheme: use redis://%s, or rediss:// for TLS", a.Redis, a.Redis)
	}
	if err != nil || !strings.HasPrefix(a.Redis, "redis://") && !strings.HasPrefix(a.Redis, "rediss://") {
		return nil, "", comp, usagef("--redis %q: use redis://[user[:password]@]host:port or rediss:// for TLS", storage.Redact(a.Redis))
	}
	if t.Name == "" {
		// host-port, with what a target name cannot hold (an IPv6
		// address's colons) as dashes.
		host, port, _ := net.SplitHostPort(addr)
		t.Name = strings.Trim(strings.Map(func(c rune) rune {
			if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
				return c
			}
			return '-'
		}, strings.ToLower(host+"-"+port)), "-._")
		if err := storage.ValidateTarget(t.Name); err != nil {
			return nil, "", comp, usagef("name the target with --target: the name made of --redis's host and port does not do: %w", err)
		}
	} else if err := storage.ValidateTarget(t.Name); err != nil {
		return nil, "", comp, usagef("--target: %w", err)
	}
	if a.Source != "" {
		t.Source = config.SourceKind(a.Source)
	}
	if t.Source != config.SourceReplication && t.Source != config.SourceFile {
		return nil, "", comp, usagef("--source %q: use replication or file", a.Source)
	}
	if t.PasswordFile == "" {
		// Passwords never need to be on the command line.
		for _, env := range []string{"REDIS_PASSWORD", "REDISCLI_AUTH"} {
			if os.Getenv(env) != "" {
				t.PasswordEnv = env
				break
			}
		}
	}
	comp, err = OverrideCodec(comp, a.Codec, a.Level)
	return t, r.Storage, comp, err
}

// adhocKube builds an ad hoc Kubernetes target from the flags.
func (r Request) adhocKube(a *Adhoc, k *KubeFlags) (*config.Target, string, codec.Settings, error) {
	var comp codec.Settings
	if a.Redis != "" {
		return nil, "", comp, usagef("--redis and --pod/--statefulset/--deployment/--selector/--helm-release name different targets: give one")
	}
	if r.Storage == "" {
		return nil, "", comp, usagef("--storage is required, e.g. --storage s3://bucket/prefix?region=eu-west-1")
	}
	kt, err := k.KubeTarget()
	if err != nil {
		return nil, "", comp, err
	}
	t := &config.Target{Name: r.Target, Kubernetes: kt, Username: k.RedisUser, PasswordFile: a.PasswordFile, Source: config.SourceKind(a.Source), Dir: a.Dir, DBFilename: a.DBFilename}
	if t.Source == "" {
		t.Source = config.SourceFile
	}
	if t.Source != config.SourceReplication && t.Source != config.SourceFile {
		return nil, "", comp, usagef("--source %q: use replication or file", a.Source)
	}
	if t.Name == "" {
		name := kt.Pod + kt.StatefulSet + kt.Deployment + kt.HelmRelease
		if name == "" {
			return nil, "", comp, usagef("--target NAME is required with --selector: it names the backups in storage")
		}
		t.Name = strings.ToLower(kt.Namespace + "-" + name)
	}
	if err := storage.ValidateTarget(t.Name); err != nil {
		return nil, "", comp, usagef("--target: %w", err)
	}
	comp, err = OverrideCodec(comp, a.Codec, a.Level)
	return t, r.Storage, comp, err
}

// RestoreTarget returns the Kubernetes target to restore into and the
// storage URL, from the config file and --target or the ad hoc flags.
func (r Request) RestoreTarget(k *KubeFlags, passwordFile string) (*config.Target, string, error) {
	if r.Config != "" {
		if k.Set() {
			return nil, "", usagef("with --config, name the target with --target; --pod/--statefulset/... are for ad hoc use")
		}
		t, url, _, err := r.BackupTarget(&Adhoc{}, k)
		if err != nil {
			return nil, "", err
		}
		if t.Sentinel != nil && t.Kubernetes == nil {
			return nil, "", usagef("target %q is a Sentinel set reached by addresses: rdbak cannot install a file on its master from here; "+
				"restore with --to-file PATH and follow deploy/runbooks/restore-sentinel-set.md, which freezes failover the same way", t.Name)
		}
		if t.Kubernetes == nil {
			return nil, "", usagef("target %q is not in Kubernetes: restore it with --to-file PATH", t.Name)
		}
		return t, url, nil
	}
	if !k.Set() {
		return nil, "", usagef("say where to restore: --to-file PATH, or a Kubernetes target (--config with --target, or --pod/--statefulset/--deployment [ns/]name)")
	}
	t, url, _, err := r.adhocKube(&Adhoc{PasswordFile: passwordFile}, k)
	return t, url, err
}

// OverrideCodec returns c with the codec and level given on the command
// line (either may be ""), checked.
func OverrideCodec(c codec.Settings, codecName, level string) (codec.Settings, error) {
	if codecName != "" {
		c.Codec, c.Level = codecName, ""
	}
	if level != "" {
		c.Level = level
	}
	c, err := c.Normalize()
	if err != nil {
		return c, usagef("compression: %w", err)
	}
	return c, nil
}

// codecOf is the config file's compression as codec settings, unchecked.
func codecOf(c config.Compression) codec.Settings {
	return codec.Settings{Codec: string(c.Codec), Level: c.Level, Concurrency: c.Concurrency}
}

// OpenRepo opens the storage of --storage, or of the config file (the
// --target's storage when given), and returns it with the --target name
// ("" for all targets). create is for commands that write.
func (r Request) OpenRepo(ctx context.Context, create bool) (*storage.Repo, string, error) {
	url := r.Storage
	if r.Config != "" {
		f, err := r.LoadConfig()
		if err != nil {
			return nil, "", err
		}
		if url == "" {
			url = f.Storage
			if r.Target != "" {
				t, err := r.configTarget(f)
				if err != nil {
					return nil, "", err
				}
				url = t.Storage
			}
		}
	}
	if url == "" {
		return nil, "", usagef("say where the backups are: --storage URL, or --config FILE [--target NAME]")
	}
	if r.Target != "" {
		if err := storage.ValidateTarget(r.Target); err != nil {
			return nil, "", usagef("--target: %w", err)
		}
	}
	repo, err := storage.Open(ctx, url, storage.Options{Create: create})
	if err != nil {
		return nil, "", err
	}
	return repo, r.Target, nil
}

// Targets returns the config file's targets (only --target's, when
// given), or without a config the targets with backups in --storage (only
// --target, when given), with no schedule.
func (r Request) Targets(ctx context.Context) ([]config.Target, error) {
	if r.Config != "" {
		return r.ConfigTargets()
	}
	repo, target, err := r.OpenRepo(ctx, false)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	names := []string{target}
	if target == "" {
		if names, err = StoredTargets(ctx, repo); err != nil {
			return nil, err
		}
	}
	ts := make([]config.Target, 0, len(names))
	for _, n := range names {
		ts = append(ts, config.Target{Name: n, Storage: r.Storage})
	}
	return ts, nil
}

// ConfigTargets returns the config file's targets, or only --target.
func (r Request) ConfigTargets() ([]config.Target, error) {
	f, err := r.LoadConfig()
	if err != nil {
		return nil, err
	}
	if r.Target == "" {
		return f.Targets, nil
	}
	t, err := r.configTarget(f)
	if err != nil {
		return nil, err
	}
	return []config.Target{*t}, nil
}

// StoredTargets returns the names of the targets with backups in repo.
func StoredTargets(ctx context.Context, repo *storage.Repo) ([]string, error) {
	ms, _, err := repo.List(ctx, "")
	if err != nil {
		return nil, err
	}
	return storage.Targets(ms), nil
}

// TargetHint says, when target has no backups in repo at all, which
// targets have: a mistyped --target otherwise looks like a target whose
// backups are gone. It is empty when target is empty or has backups, or
// when the listing fails (the caller reports its own error).
func TargetHint(ctx context.Context, repo *storage.Repo, target string) string {
	if target == "" {
		return ""
	}
	names, err := StoredTargets(ctx, repo)
	switch {
	case err != nil || slices.Contains(names, target):
		return ""
	case len(names) == 0:
		return fmt.Sprintf("no target has backups in %s (check --storage)", repo)
	}
	return fmt.Sprintf("targets with backups in %s: %s (check --target)", repo, strings.Join(names, ", "))
}

// ResolveBackup finds the backup ref names (latest, an id or a unique id
// prefix), or with a non-zero at the newest at or before at, and turns the
// storage errors into what the command line reports: an ambiguous
// reference is a usage error, a damaged newest backup says which backup
// could be used instead.
func ResolveBackup(ctx context.Context, repo *storage.Repo, target, ref string, at time.Time, o storage.ResolveOptions) (storage.Selection, error) {
	var (
		sel storage.Selection
		err error
	)
	if at.IsZero() {
		sel, err = repo.Resolve(ctx, target, ref, o)
	} else {
		sel, err = repo.AsOf(ctx, target, at, o)
	}
	var damaged *storage.DamagedError
	switch {
	case errors.Is(err, storage.ErrBadRef):
		return sel, UsageError{Err: err}
	case errors.Is(err, storage.ErrAmbiguous):
		if !at.IsZero() && target == "" {
			return sel, usagef("--as-of needs --target: %w", err)
		}
		return sel, UsageError{Err: err}
	case errors.As(err, &damaged):
		hint := "\nhint: 'rdbak list' shows every backup; delete or repair the damaged one"
		if fb := damaged.Fallback; fb != nil {
			hint = fmt.Sprintf("\nhint: the newest usable backup is %s/%s (created %s): name it by id to use that one",
				fb.Target, fb.ID, fb.Created.UTC().Format(time.RFC3339Nano))
		}
		return sel, fmt.Errorf("%w%s", err, hint)
	case errors.Is(err, storage.ErrNotFound):
		if hint := TargetHint(ctx, repo, target); hint != "" {
			return sel, fmt.Errorf("%w\nhint: %s", err, hint)
		}
	}
	return sel, err
}

// Pick chooses the backup named by ref, or with a non-zero at the newest
// at or before at. A damaged newest backup is an error naming it, unless
// skipDamaged: then the newest usable one is chosen and the skipped ones
// are logged.
func Pick(ctx context.Context, log *slog.Logger, repo *storage.Repo, target, ref string, at time.Time, skipDamaged bool) (*storage.Manifest, error) {
	if !at.IsZero() {
		ref = storage.Latest
	}
	sel, err := ResolveBackup(ctx, repo, target, ref, at, storage.ResolveOptions{SkipDamaged: skipDamaged})
	if err != nil {
		return nil, err
	}
	WarnSkipped(log, sel)
	return sel.Manifest, nil
}

// WarnSkipped logs the damaged backups a --skip-damaged resolution passed
// over and the one it fell back to.
func WarnSkipped(log *slog.Logger, sel storage.Selection) {
	if len(sel.Skipped) == 0 || sel.Manifest == nil {
		return
	}
	var names []string
	for _, p := range sel.Skipped {
		names = append(names, p.Target+"/"+p.ID)
		log.Warn("damaged backup skipped", "target", p.Target, "backup_id", p.ID, "key", p.Key, "error", p.Err.Error())
	}
	log.Warn("falling back to an older backup", "target", sel.Manifest.Target, "backup_id", sel.Manifest.ID,
		"created", sel.Manifest.Created.UTC().Format(time.RFC3339Nano), "skipped", strings.Join(names, ", "))
}

// TargetNames returns the names of the config file's targets, else of
// the targets with backups in --storage (none without either).
func (r Request) TargetNames(ctx context.Context) ([]string, error) {
	if r.Config != "" {
		f, err := r.LoadConfig()
		if err != nil {
			return nil, err
		}
		var names []string
		for _, t := range f.Targets {
			names = append(names, t.Name)
		}
		return names, nil
	}
	if r.Storage == "" {
		return nil, nil
	}
	repo, err := storage.Open(ctx, r.Storage, storage.Options{})
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	return StoredTargets(ctx, repo)
}

// Backups returns the complete backups of --target (all targets without
// it) in the request's storage, oldest first.
func (r Request) Backups(ctx context.Context) ([]*storage.Manifest, error) {
	repo, target, err := r.OpenRepo(ctx, false)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	ms, _, err := repo.List(ctx, target)
	return ms, err
}

// Opened is a backup picked from storage with what reading its data takes.
type Opened struct {
	Repo       *storage.Repo
	Manifest   *storage.Manifest
	Identities *crypt.Identities // nil for a plain backup; empty when none is configured
}

// Close closes the storage.
func (o *Opened) Close() error { return o.Repo.Close() }

// OpenBackup opens r's storage and picks the backup rr names (Pick), from
// rr.FromTarget's backups when set. For an encrypted backup it gathers
// the identities (Identities: rr.IdentityFiles, the config's identityFile
// or identitySecret); having none is left to the reader of the data
// (restore.CheckDecryptable), since verify can still check what is stored.
func (a *App) OpenBackup(ctx context.Context, r Request, rr RestoreRequest) (*Opened, error) {
	source, err := rr.source(r.Target)
	if err != nil {
		return nil, err
	}
	repo, _, err := r.OpenRepo(ctx, false)
	if err != nil {
		return nil, err
	}
	o := &Opened{Repo: repo}
	if o.Manifest, err = Pick(ctx, a.Log, repo, source, rr.Ref, rr.At, rr.SkipDamaged); err == nil && o.Manifest.Data.Encrypted() {
		o.Identities, err = a.Identities(ctx, r, rr.IdentityFiles)
	}
	if err != nil {
		repo.Close()
		return nil, err
	}
	return o, nil
}
