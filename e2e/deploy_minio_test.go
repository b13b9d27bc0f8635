//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// The MinIO the deploy tests start on the node's address, where pods reach
// it through the CNI bridge (testenv.StartMinIO listens on loopback only).
const (
	nodeMinIOUser   = "rdbak-deploy"
	nodeMinIOSecret = "rdbak-deploy-secret"
	nodeMinIOBucket = "rdbak-deploy"
)

// nodeMinIO is a MinIO server on the node IP with one bucket.
type nodeMinIO struct {
	url    string   // the storage URL rdbak takes, from the host and from pods
	env    []string // its credentials, as rdbak reads them
	client *s3.Client
}

// startNodeMinIO starts MinIO on the testbed node's IP and a free port, and
// stops it when t ends.
func startNodeMinIO(t *testing.T, c *testcluster.Cluster) *nodeMinIO {
	t.Helper()
	ip := nodeIP(t, c)
	bin := minioBin(t, c)
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("find a free port on %s: %v", ip, err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(t.TempDir(), "minio.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	log := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	cmd := exec.Command(bin, "server", "--quiet", "--address", addr, dir)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "MINIO_ROOT_USER=" + nodeMinIOUser,
		"MINIO_ROOT_PASSWORD=" + nodeMinIOSecret, "MINIO_BROWSER=off", "MINIO_UPDATE=off"}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	endpoint := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("minio on %s not ready after 60s: %v\n%s", addr, err, log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	client := s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(nodeMinIOUser, nodeMinIOSecret, ""),
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(nodeMinIOBucket)}); err != nil {
		t.Fatalf("create bucket: %v\n%s", err, log())
	}
	return &nodeMinIO{
		url:    testenv.S3URL(nodeMinIOBucket, endpoint, "us-east-1"),
		env:    []string{"AWS_ACCESS_KEY_ID=" + nodeMinIOUser, "AWS_SECRET_ACCESS_KEY=" + nodeMinIOSecret},
		client: client,
	}
}

// backups lists the backups in the bucket, as rdbak list sees them.
func (m *nodeMinIO) backups(t *testing.T, ns *testcluster.Namespace) []storage.Manifest {
	t.Helper()
	var ms []storage.Manifest
	out := rdbak(t, ns, m.env, "list", "--storage", m.url, "-o", "json").ok(t)
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, out)
	}
	return ms
}

// nodeIP is the address of the testbed's node, as hack/testbed/up chose it.
func nodeIP(t *testing.T, c *testcluster.Cluster) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.Getenv("RDBAK_TESTBED_STATE"), "node-ip"))
	if err != nil {
		t.Fatalf("the testbed's node IP: %v", err)
	}
	return strings.TrimSpace(string(raw))
}

// apiServerEnv patches the pod template at path of the kind object so that
// its first container reaches the API server at the node's address: the
// testbed has no kube-proxy, so the kubernetes Service's ClusterIP, which
// in-cluster clients use, does not route. The apiserver's certificate
// names the node IP. A real cluster needs nothing of this.
func apiServerEnv(t *testing.T, c *testcluster.Cluster, kind, path string) string {
	return fmt.Sprintf(`- target: {kind: %s}
  patch: '[{"op": "add", "path": "%s/containers/0/env", "value": [{"name": "KUBERNETES_SERVICE_HOST", "value": "%s"}, {"name": "KUBERNETES_SERVICE_PORT", "value": "6443"}]}]'
`, kind, path, nodeIP(t, c))
}

// objects lists every key in the bucket.
func (m *nodeMinIO) objects(t *testing.T) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(m.client, &s3.ListObjectsV2Input{Bucket: aws.String(nodeMinIOBucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("list bucket: %v", err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// minioBin finds the MinIO binary as testenv does: $RDBAK_MINIO_BIN, then
// hack/deps.sh's deps.env, then PATH.
func minioBin(t *testing.T, c *testcluster.Cluster) string {
	t.Helper()
	if p := os.Getenv(testenv.MinIOBinEnv); p != "" {
		return p
	}
	cache := c.Getenv("RDBAK_CACHE")
	if f, err := os.Open(filepath.Join(cache, "deps.env")); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimPrefix(s.Text(), "export "), testenv.MinIOBinEnv+"="); ok {
				return strings.Trim(v, `'"`)
			}
		}
	}
	return testenv.LookPath(t, "minio")
}
