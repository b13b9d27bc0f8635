package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/storage"
)

// adhoc holds the flags that describe a target without a config file.
type adhoc struct {
	redis        string
	sentinel     string // --sentinel host:port,...
	masterName   string // --master-name
	sentinelPass string // --sentinel-password-file
	passwordFile string
	source       string
	dir          string
	dbfilename   string
	codec        string
	level        string
}

// loadConfig loads --config, turning its errors into usage errors.
func (g *globals) loadConfig() (*config.File, error) {
	f, err := config.Load(g.config)
	if err != nil {
		return nil, usageError{Err: err} // names the file and line already
	}
	for _, w := range f.Warnings() {
		g.log.Warn(w, "config", g.config)
	}
	return f, nil
}

// resolveTarget returns the target to back up, its storage URL and the
// compression settings, from --config/--target or the ad hoc flags.
func (g *globals) resolveTarget(a *adhoc, kf *kubeFlags) (*config.Target, string, codec.Settings, error) {
	var comp codec.Settings
	if g.config != "" {
		if a.redis != "" || a.passwordFile != "" || a.sentinel != "" || a.masterName != "" || kf.set() {
			return nil, "", comp, usagef("--redis and --password-file describe an ad hoc target; with --config, name a target of the file with --target")
		}
		f, err := g.loadConfig()
		if err != nil {
			return nil, "", comp, err
		}
		t, err := f.Target(g.target)
		if err != nil {
			return nil, "", comp, usageError{Err: fmt.Errorf("config %s: %w", g.config, err)}
		}
		comp = codecOf(f.Compression)
		url := t.Storage
		if g.storage != "" {
			url = g.storage
		}
		if url == "" {
			return nil, "", comp, usagef("target %q has no storage: set storage in %s or pass --storage", t.Name, g.config)
		}
		comp, err = overrideCodec(comp, a)
		return t, url, comp, err
	}
	if kf.set() {
		return g.adhocKube(a, kf)
	}
	if a.sentinel != "" || a.masterName != "" {
		if a.redis != "" {
			return nil, "", comp, usagef("--redis and --sentinel name different targets: give one")
		}
		if g.storage == "" {
			return nil, "", comp, usagef("--storage is required with --sentinel, e.g. --storage file:///var/backups/rdbak")
		}
		t, err := app.AdhocSentinel(g.target, a.sentinel, a.masterName, a.passwordFile, a.sentinelPass)
		if err != nil {
			return nil, "", comp, err
		}
		comp, err = overrideCodec(comp, a)
		return t, g.storage, comp, err
	}
	if a.redis == "" {
		return nil, "", comp, usagef("name the Redis to back up: --redis redis://host:6379, or --pod/--statefulset/--deployment [ns/]name, with --storage URL; or --config rdbak.yaml [--target NAME]")
	}
	if g.storage == "" {
		return nil, "", comp, usagef("--storage is required with --redis, e.g. --storage file:///var/backups/rdbak")
	}
	t := &config.Target{
		Name:         g.target,
		Redis:        a.redis,
		PasswordFile: a.passwordFile,
		Source:       config.SourceReplication,
		Dir:          a.dir,
		DBFilename:   a.dbfilename,
	}
	addr, _, err := t.Endpoint()
	if err != nil || !strings.HasPrefix(a.redis, "redis://") && !strings.HasPrefix(a.redis, "rediss://") {
		return nil, "", comp, usagef("--redis %q: use redis://[user[:password]@]host:port or rediss:// for TLS", redactURL(a.redis))
	}
	if t.Name == "" {
		host, port, _ := net.SplitHostPort(addr)
		t.Name = strings.ToLower(host + "-" + port)
	}
	if err := storage.ValidateTarget(t.Name); err != nil {
		return nil, "", comp, usagef("--target: %w", err)
	}
	if a.source != "" {
		t.Source = config.SourceKind(a.source)
	}
	if t.Source != config.SourceReplication && t.Source != config.SourceFile {
		return nil, "", comp, usagef("--source %q: use replication or file", a.source)
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
	comp, err = overrideCodec(comp, a)
	return t, g.storage, comp, err
}

// adhocKube builds an ad hoc Kubernetes target from the flags.
func (g *globals) adhocKube(a *adhoc, kf *kubeFlags) (*config.Target, string, codec.Settings, error) {
	var comp codec.Settings
	if a.redis != "" {
		return nil, "", comp, usagef("--redis and --pod/--statefulset/--deployment/--selector/--helm-release name different targets: give one")
	}
	if g.storage == "" {
		return nil, "", comp, usagef("--storage is required, e.g. --storage s3://bucket/prefix?region=eu-west-1")
	}
	kt, err := kf.target()
	if err != nil {
		return nil, "", comp, err
	}
	t := &config.Target{Name: g.target, Kubernetes: kt, Username: kf.redisUser, PasswordFile: a.passwordFile, Source: config.SourceKind(a.source), Dir: a.dir, DBFilename: a.dbfilename}
	if t.Source == "" {
		t.Source = config.SourceFile
	}
	if t.Source != config.SourceReplication && t.Source != config.SourceFile {
		return nil, "", comp, usagef("--source %q: use replication or file", a.source)
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
	comp, err = overrideCodec(comp, a)
	return t, g.storage, comp, err
}

func overrideCodec(c codec.Settings, a *adhoc) (codec.Settings, error) {
	if a.codec != "" {
		c.Codec, c.Level = a.codec, ""
	}
	if a.level != "" {
		c.Level = a.level
	}
	c, err := c.Normalize()
	if err != nil {
		return c, usagef("compression: %w", err)
	}
	return c, nil
}

// openRepo opens the storage named by --storage, or by the config file
// (the --target's storage when given). create is for commands that write.
func (g *globals) openRepo(ctx context.Context, create bool) (*storage.Repo, string, error) {
	url := g.storage
	target := g.target
	if g.config != "" {
		f, err := g.loadConfig()
		if err != nil {
			return nil, "", err
		}
		if url == "" {
			url = f.Storage
			if target != "" {
				t, err := f.Target(target)
				if err != nil {
					return nil, "", usageError{Err: fmt.Errorf("config %s: %w", g.config, err)}
				}
				url = t.Storage
			}
		}
	}
	if url == "" {
		return nil, "", usagef("say where the backups are: --storage URL, or --config FILE [--target NAME]")
	}
	if target != "" {
		if err := storage.ValidateTarget(target); err != nil {
			return nil, "", usagef("--target: %w", err)
		}
	}
	repo, err := storage.Open(ctx, url, storage.Options{Create: create})
	if err != nil {
		return nil, "", err
	}
	return repo, target, nil
}

// getBackup finds the backup ref names for the command's target: latest,
// an id or a unique prefix of one. A damaged newest backup is an error.
func getBackup(ctx context.Context, repo *storage.Repo, target, ref string) (*storage.Manifest, error) {
	sel, err := resolveBackup(ctx, repo, target, ref, time.Time{}, storage.ResolveOptions{})
	return sel.Manifest, err
}

// pick chooses the backup named by args[0], or the newest at or before at.
// A damaged newest backup is an error naming it, unless skipDamaged: then
// the newest usable one is chosen and the skipped ones are logged.
func (g *globals) pick(ctx context.Context, repo *storage.Repo, target string, args []string, at time.Time, skipDamaged bool) (*storage.Manifest, error) {
	ref := storage.Latest
	if at.IsZero() {
		ref = args[0]
	}
	sel, err := resolveBackup(ctx, repo, target, ref, at, storage.ResolveOptions{SkipDamaged: skipDamaged})
	if err != nil {
		return nil, err
	}
	warnSkipped(g.log, sel)
	return sel.Manifest, nil
}

// redactURL returns a URL for messages: without user info, and with every
// query value that may be a secret replaced.
func redactURL(s string) string { return storage.Redact(s) }
