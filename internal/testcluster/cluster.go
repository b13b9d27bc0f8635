// Package testcluster connects end-to-end tests to rdbak's testbed, the real
// single-node Kubernetes cluster that hack/testbed/up starts on this host,
// and gives each test a namespace of its own with the helpers rdbak's tests
// need there: apply manifests, wait for rollouts, exec into pods, create
// local PersistentVolumes, port-forward.
//
// Only tests import it. It finds the cluster through the env file up writes
// ($RDBAK_TESTBED_ENV, else the default state dir's env.sh) or, failing that,
// $KUBECONFIG. When the cluster cannot be reached the test reports the
// "kubernetes" component missing through testenv.Missing: it skips on a
// developer's machine and fails in CI, where RDBAK_REQUIRE=all.
//
// Local PersistentVolumes are directories on this host, so tests using them
// must run on the testbed's node, as hack/ci-e2e.sh does.
package testcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// Component is the name tests report to testenv.Missing when the cluster is
// unreachable; RDBAK_REQUIRE=kubernetes (or all) turns the skip into a failure.
const Component = "kubernetes"

// Names of the environment variables the testbed's env file sets, or a
// developer may set by hand.
const (
	// EnvFileEnv overrides where the env file written by hack/testbed/up is.
	EnvFileEnv = "RDBAK_TESTBED_ENV"
	// RedisImageEnv names the Redis image imported into the node.
	RedisImageEnv = "RDBAK_TESTBED_REDIS_IMAGE"
	// RedisImagesEnv lists every Redis and Valkey image imported into the
	// node by server name, as testenv's Server.Name:
	// "redis-7.0.15=rdbak.local/redis:7.0.15,redis-6.2.16=rdbak.local/redis:6.2.16".
	RedisImagesEnv = "RDBAK_TESTBED_REDIS_IMAGES"
	// PVDirEnv is the host directory local PersistentVolumes are made under.
	PVDirEnv = "RDBAK_TESTBED_PV_DIR"
	// NodeEnv is the node's name.
	NodeEnv = "RDBAK_TESTBED_NODE"
)

// Cluster is a connection to the testbed, shared by all tests of a process.
type Cluster struct {
	// Config is the admin rest.Config, for clients the helpers do not cover.
	Config *rest.Config
	// Clientset is the typed client built from Config.
	Clientset *kubernetes.Clientset
	// Dynamic is the dynamic client Apply uses.
	Dynamic dynamic.Interface
	// Mapper maps kinds to resources for Apply; it rereads discovery when a
	// kind is unknown, so CRDs applied by a test work.
	Mapper meta.RESTMapper
	// Node is the name of a Ready node, where local volumes are placed.
	Node string

	env map[string]string
}

var (
	connectMu  sync.Mutex
	connected  *Cluster
	connectErr error
)

// Connect returns the shared connection to the testbed, connecting on first
// use. When the cluster is unreachable it calls testenv.Missing, which skips
// or fails t.
func Connect(t testing.TB) *Cluster {
	t.Helper()
	connectMu.Lock()
	defer connectMu.Unlock()
	if connected == nil && connectErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		connected, connectErr = connect(ctx)
		cancel()
	}
	if connectErr != nil {
		testenv.Missing(t, Component, connectErr.Error()+" (start it with hack/testbed/up)")
	}
	return connected
}

func connect(ctx context.Context) (*Cluster, error) {
	env, err := loadEnv()
	if err != nil {
		return nil, err
	}
	kubeconfig := env["KUBECONFIG"]
	if kubeconfig == "" {
		kubeconfig = os.Getenv("KUBECONFIG")
	}
	if kubeconfig == "" {
		return nil, fmt.Errorf("no testbed env file at %s and KUBECONFIG is not set", envFilePath())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	// Tests poll; the default 5 QPS would throttle them for nothing.
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build clientset for %s: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build dynamic client for %s: %w", cfg.Host, err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes at %s (kubeconfig %s): %w", cfg.Host, kubeconfig, err)
	}
	node := readyNode(nodes.Items)
	if node == "" {
		return nil, fmt.Errorf("no Ready node at %s (%d nodes)", cfg.Host, len(nodes.Items))
	}
	if n := env[NodeEnv]; n != "" {
		node = n
	}
	return &Cluster{
		Config:    cfg,
		Clientset: cs,
		Dynamic:   dyn,
		Mapper:    restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery())),
		Node:      node,
		env:       env,
	}, nil
}

func readyNode(nodes []corev1.Node) string {
	for _, n := range nodes {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return n.Name
			}
		}
	}
	return ""
}

// Getenv returns key from the testbed's env file, or from the process
// environment when the file does not set it.
func (c *Cluster) Getenv(key string) string {
	if v, ok := c.env[key]; ok {
		return v
	}
	return os.Getenv(key)
}

// RedisImage returns the Redis image the testbed imported into the node
// (use it with imagePullPolicy: Never), or fails t when it is unknown.
func (c *Cluster) RedisImage(t testing.TB) string {
	t.Helper()
	img := c.Getenv(RedisImageEnv)
	if img == "" {
		t.Fatalf("%s is not set: is the cluster the testbed from hack/testbed/up?", RedisImageEnv)
	}
	return img
}

// ServerImage returns the image of the Redis or Valkey server called name
// (testenv's Server.Name, e.g. "redis-6.2.16"), built from the same binary
// testenv.NeedServer(t, name) runs locally, or fails t when the testbed has
// none.
func (c *Cluster) ServerImage(t testing.TB, name string) string {
	t.Helper()
	img, err := serverImage(c.Getenv(RedisImagesEnv), name)
	if err != nil {
		t.Fatalf("%v: rebuild the testbed with hack/deps.sh, then hack/testbed/up", err)
	}
	return img
}

// serverImage finds name in list, the value of RedisImagesEnv.
func serverImage(list, name string) (string, error) {
	if list == "" {
		return "", fmt.Errorf("%s is not set: the testbed predates per-version images", RedisImagesEnv)
	}
	var names []string
	for _, pair := range strings.Split(list, ",") {
		n, img, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || n == "" || img == "" {
			return "", fmt.Errorf("%s: entry %q is not name=image", RedisImagesEnv, pair)
		}
		if n == name {
			return img, nil
		}
		names = append(names, n)
	}
	return "", fmt.Errorf("the testbed has no image of %s (%s lists %s)", name, RedisImagesEnv, strings.Join(names, ", "))
}

// envFilePath is $RDBAK_TESTBED_ENV, else env.sh in the default state dir
// (the same default as hack/testbed/lib.sh).
func envFilePath() string {
	if p := os.Getenv(EnvFileEnv); p != "" {
		return p
	}
	state := os.Getenv("RDBAK_TESTBED_STATE")
	if state == "" {
		cache := os.Getenv("RDBAK_CACHE")
		if cache == "" {
			base := os.Getenv("XDG_CACHE_HOME")
			if base == "" {
				home, _ := os.UserHomeDir()
				base = filepath.Join(home, ".cache")
			}
			cache = filepath.Join(base, "rdbak")
		}
		state = filepath.Join(cache, "testbed-state")
	}
	return filepath.Join(state, "env.sh")
}

// loadEnv reads the env file. A missing file is not an error unless
// RDBAK_TESTBED_ENV names it: the caller then falls back to $KUBECONFIG.
func loadEnv() (map[string]string, error) {
	p := envFilePath()
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) && os.Getenv(EnvFileEnv) == "" {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open testbed env file: %w", err)
	}
	defer f.Close()
	env, err := parseEnv(f)
	if err != nil {
		return nil, fmt.Errorf("read testbed env file %s: %w", p, err)
	}
	return env, nil
}

// parseEnv reads the `export NAME='value'` and `export NAME=value` lines of
// an env file. Lines whose value needs the shell (double quotes, $) are
// skipped: up writes only PATH that way, and tests do not need it.
func parseEnv(r io.Reader) (map[string]string, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		name, val, ok := strings.Cut(rest, "=")
		if !ok {
			continue
		}
		switch {
		case len(val) >= 2 && val[0] == '\'' && val[len(val)-1] == '\'':
			env[name] = val[1 : len(val)-1]
		case !strings.ContainsAny(val, "\"'$`\\ "):
			env[name] = val
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	return env, nil
}
