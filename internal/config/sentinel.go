package config

import (
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// SentinelTarget names a Redis replication set by its Sentinels and the
// name they monitor its master under.
type SentinelTarget struct {
	// Addresses are the Sentinels: host:port (26379 when no port), or
	// redis://host:port; rediss:// connects to the Sentinels and to the
	// data nodes they name over TLS (verified against the system roots).
	Addresses []string `yaml:"addresses"`
	// Kubernetes names the Sentinel pods instead of Addresses, with the
	// target's kubernetes block naming the data pods (e.g. the Bitnami
	// chart's redis-node StatefulSet, whose pods run both).
	Kubernetes *SentinelKube `yaml:"kubernetes"`
	// MasterName is the name the Sentinels monitor the master under
	// (sentinel monitor <name> ...).
	MasterName string `yaml:"masterName"`
	// Username is the Sentinels' ACL user (6.2+); omit for "default".
	Username string `yaml:"username"`
	// PasswordFile or PasswordEnv give the Sentinels' own password
	// (their requirepass or the user's), not the data nodes'.
	PasswordFile string `yaml:"passwordFile"`
	PasswordEnv  string `yaml:"passwordEnv"`
	// PasswordSecret is a Secret key in the namespace holding the
	// Sentinels' password (kubernetes only).
	PasswordSecret *SecretRef `yaml:"passwordSecret"`
	// Prefer replica (default): back up a healthy replica, the master
	// only when none qualifies; master: always the master.
	Prefer string `yaml:"prefer"`
	// MaxLagBytes is how far (bytes of replication stream) a replica may
	// be behind the master and still be backed up; 0: 1 MiB.
	MaxLagBytes int `yaml:"maxLagBytes"`

	lookupEnv func(string) (string, bool)
}

// SentinelKube names the Sentinel pods of a set in Kubernetes, by exactly
// one of Service (its selector) or Selector.
type SentinelKube struct {
	// Namespace defaults to the target's kubernetes namespace.
	Namespace string `yaml:"namespace"`
	Service   string `yaml:"service"`
	Selector  string `yaml:"selector"`
	// Container runs the Sentinel; by default the one exposing port
	// 26379, whose port is used.
	Container string `yaml:"container"`
}

// DefaultSentinelPort is the port of a Sentinel address given without one.
const DefaultSentinelPort = 26379

// Password returns the Sentinels' password, "" when none is configured.
func (s *SentinelTarget) Password(target string) (string, error) {
	p, _, err := readPassword(fmt.Sprintf("target %q", target), "sentinel.", s.PasswordFile, s.PasswordEnv, s.lookupEnv)
	return p, err
}

// Endpoints returns the Sentinels' host:port addresses and whether they
// (and the data nodes) are reached over TLS.
func (s *SentinelTarget) Endpoints() (addrs []string, useTLS bool, err error) {
	for i, a := range s.Addresses {
		addr, tls, err := sentinelAddr(a)
		if err != nil {
			return nil, false, fmt.Errorf("sentinel.addresses[%d]: %w", i, err)
		}
		if i > 0 && tls != useTLS {
			return nil, false, fmt.Errorf("sentinel.addresses[%d]: mixes rediss:// and plain addresses: use one scheme for every Sentinel", i)
		}
		addrs, useTLS = append(addrs, addr), tls
	}
	return addrs, useTLS, nil
}

const sentinelHint = "e.g. sentinel-0.redis.internal:26379, or rediss://host:26379 for TLS"

// sentinelAddr parses one Sentinel address.
func sentinelAddr(a string) (string, bool, error) {
	useTLS := false
	if strings.Contains(a, "://") {
		u, err := url.Parse(a)
		if err != nil {
			return "", false, fmt.Errorf("not a valid URL: %w", urlErr(err))
		}
		if u.Scheme != "redis" && u.Scheme != "rediss" {
			return "", false, fmt.Errorf("the scheme must be redis:// or rediss:// (TLS)")
		}
		if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return "", false, fmt.Errorf("give host and port only; the Sentinels' password goes in sentinel.passwordFile or passwordEnv")
		}
		useTLS, a = u.Scheme == "rediss", u.Host
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		host, port = a, strconv.Itoa(DefaultSentinelPort)
	}
	if n, err := strconv.Atoi(port); host == "" || err != nil || n < 1 || n > 65535 {
		return "", false, fmt.Errorf("not host:port")
	}
	return net.JoinHostPort(host, port), useTLS, nil
}

func (v *validator) sentinel(p string, t *Target) {
	s := t.Sentinel
	p += ".sentinel"
	switch k := s.Kubernetes; {
	case k != nil && len(s.Addresses) > 0:
		v.fail(p+".addresses", "set together with sentinel.kubernetes", "name the Sentinels by addresses or by kubernetes, not both")
	case k != nil:
		if (k.Service == "") == (k.Selector == "") {
			v.fail(p+".kubernetes", "name the Sentinel pods by exactly one of service or selector", "e.g. kubernetes: {service: redis} (the Bitnami chart's Service)")
		}
		if k.Selector != "" {
			if _, err := labels.Parse(k.Selector); err != nil {
				v.fail(p+".kubernetes.selector", "not a label selector: "+err.Error(), "e.g. app.kubernetes.io/instance=redis")
			}
		}
		if t.Kubernetes == nil {
			v.fail(p+".kubernetes", "needs the target's kubernetes block", "name the data pods too, e.g. kubernetes: {statefulset: redis-node}")
		}
	case len(s.Addresses) == 0:
		v.fail(p+".addresses", "missing", "list the Sentinels, "+sentinelHint+", or name their pods with sentinel.kubernetes")
	}
	if ps := s.PasswordSecret; ps != nil {
		if ps.Name == "" || ps.Key == "" {
			v.fail(p+".passwordSecret", "needs both name and key", "e.g. passwordSecret: {name: redis, key: redis-password}")
		}
		if s.Kubernetes == nil {
			v.fail(p+".passwordSecret", "only with sentinel.kubernetes", "use passwordFile or passwordEnv for Sentinels given by address")
		}
		if s.PasswordFile != "" || s.PasswordEnv != "" {
			v.fail(p+".passwordSecret", "set together with passwordFile or passwordEnv", "keep one way to give the password")
		}
	}
	for i, a := range s.Addresses {
		if _, _, err := sentinelAddr(a); err != nil {
			v.fail(fmt.Sprintf("%s.addresses[%d]", p, i), err.Error(), sentinelHint)
		}
	}
	if _, _, err := s.Endpoints(); err != nil && strings.Contains(err.Error(), "mixes") {
		v.fail(p+".addresses", err.Error(), sentinelHint)
	}
	if s.MasterName == "" {
		v.fail(p+".masterName", "missing", "give the name of `sentinel monitor <name> ...`, e.g. mymaster")
	}
	if s.PasswordFile != "" && s.PasswordEnv != "" {
		v.fail(p+".passwordEnv", "set together with passwordFile", "keep one of passwordFile and passwordEnv")
	}
	if s.PasswordEnv != "" && !envName.MatchString(s.PasswordEnv) {
		v.fail(p+".passwordEnv", "invalid variable name "+v.show(p+".passwordEnv", s.PasswordEnv), "give the variable's name, e.g. SENTINEL_PASSWORD, not its value")
	}
	switch s.Prefer {
	case "", "master", "replica":
	default:
		v.fail(p+".prefer", fmt.Sprintf("unknown role %q", s.Prefer), "use replica (default) or master")
	}
	if s.MaxLagBytes < 0 {
		v.fail(p+".maxLagBytes", "negative", "give a number of bytes, or 0 for the default of 1 MiB")
	}
	if t.Source == SourceFile {
		v.fail(strings.TrimSuffix(p, ".sentinel")+".source", "file is not supported with sentinel", "remove source: the set is backed up over replication")
	}
}
