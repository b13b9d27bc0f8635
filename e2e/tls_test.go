//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testcluster"
)

// tlsRedis listens only on a TLS port with a certificate for redis.test,
// signed by a CA kept in the Secret redis-tls.
const tlsRedis = `
apiVersion: v1
kind: Secret
metadata: {name: redis-tls}
stringData:
  ca.crt: |
%[3]s
  tls.crt: |
%[4]s
  tls.key: |
%[5]s
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis}
spec:
  serviceName: redis
  replicas: 1
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: redis
        image: %[1]s
        imagePullPolicy: Never
        command: [redis-server, --port, "0", --tls-port, "6379", --tls-cert-file, /tls/tls.crt, --tls-key-file, /tls/tls.key,
                  --tls-ca-cert-file, /tls/ca.crt, --tls-auth-clients, "no", --tls-replication, "yes", --save, "", %[2]s]
        ports: [{containerPort: 6379, name: redis}]
        readinessProbe: {exec: {command: [redis-cli, --tls, --cacert, /tls/ca.crt, --sni, redis.test, ping]}, periodSeconds: 1}
        volumeMounts: [{name: tls, mountPath: /tls}]
      volumes: [{name: tls, secret: {secretName: redis-tls}}]
`

// certs returns a CA and a server certificate for redis.test, as PEM,
// indented for the Secret above.
func certs(t *testing.T) (ca, crt, key string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rdbak test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "redis.test"}, DNSNames: []string{"redis.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	caCert, _ := x509.ParseCertificate(caDER)
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	indent := func(b []byte) string {
		return "    " + strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n    ")
	}
	return indent(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		indent(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER})),
		indent(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

// TestBackupTLS backs up a Redis that speaks only TLS, verifying its
// certificate with the CA from a Secret, and refuses an unverified one.
func TestBackupTLS(t *testing.T) {
	ns := testcluster.New(t)
	ca, crt, key := certs(t)
	ns.Apply(t, fmt.Sprintf(tlsRedis, ns.RedisImage(t), redisArgs, ca, crt, key))
	ns.WaitStatefulSet(t, "redis")
	cli := func(args ...string) string {
		return strings.TrimSpace(ns.Run(t, "redis-0", append([]string{"redis-cli", "--tls", "--cacert", "/tls/ca.crt", "--sni", "redis.test"}, args...)...))
	}
	for i := 0; i < 200; i++ {
		cli("SET", fmt.Sprintf("k%d", i), strings.Repeat("v", i))
	}
	want := cli("DEBUG", "DIGEST")
	tlsArgs := []string{"--redis-tls", "--redis-tls-ca-secret", "redis-tls/ca.crt", "--redis-tls-server-name", "redis.test"}

	for _, source := range []string{"file", "replication"} {
		t.Run(source, func(t *testing.T) {
			store := "file://" + t.TempDir()
			id := rdbak(t, ns, nil, append([]string{"now", "--storage", store, "--pod", ns.Name + "/redis-0", "--source", source}, tlsArgs...)...).ok(t)
			if got := restoredDigest(t, ns, store, id); got != want {
				t.Fatalf("restored digest %s, the pod's %s", got, want)
			}
		})
	}
	// The certificate does not name what rdbak was told to expect.
	store := t.TempDir()
	rdbak(t, ns, nil, "now", "--storage", "file://"+store, "--pod", ns.Name+"/redis-0", "--redis-tls", "--redis-tls-ca-secret", "redis-tls/ca.crt", "--redis-tls-server-name", "other.test").
		fails(t, 1, "certificate")
	assertNothingStored(t, ns, store)
	// Without the CA the system roots do not trust it.
	rdbak(t, ns, nil, "now", "--storage", "file://"+filepath.Join(store, "x"), "--pod", ns.Name+"/redis-0", "--redis-tls", "--redis-tls-server-name", "redis.test").
		fails(t, 1, "certificate")
}
