package redis

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
)

// startTLSRedis starts redis-server with a TLS port next to its plain one
// and returns that port's address and a client config trusting its
// self-signed certificate.
func startTLSRedis(t *testing.T, config ...string) (*testenv.Redis, string, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rdbak test redis"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testenv.FreePort(t)
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: append([]string{
		"tls-port " + strconv.Itoa(port),
		"tls-cert-file " + certFile,
		"tls-key-file " + keyFile,
		"tls-ca-cert-file " + certFile,
		"tls-auth-clients no",
	}, config...)})
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return r, testenv.Addr(port), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func TestTLS(t *testing.T) {
	r, addr, cfg := startTLSRedis(t, "repl-diskless-sync-delay 0")
	testenv.FillAllTypes(t, r, 1)
	want := r.Digest(t)

	t.Run("pull", func(t *testing.T) {
		got, _ := pullAll(t, t.Context(), &PullSource{Addr: addr, TLS: cfg})
		if d := loadDigest(t, got); d != want {
			t.Fatalf("digest = %s, want %s", d, want)
		}
	})
	t.Run("pull with untrusted certificate", func(t *testing.T) {
		_, err := (&PullSource{Addr: addr, TLS: &tls.Config{MinVersion: tls.VersionTLS12}}).Open(t.Context())
		if err == nil {
			t.Fatal("Open succeeded against an untrusted certificate")
		}
		t.Logf("error: %v", err)
	})
	t.Run("client", func(t *testing.T) {
		c := New(Options{Addr: addr, TLS: cfg})
		defer c.Close()
		in, err := c.Info(t.Context(), "server")
		if err != nil {
			t.Fatalf("INFO over TLS: %v", err)
		}
		if in.Server.Version == "" {
			t.Fatal("INFO server over TLS has no redis_version")
		}
	})
}

// TestClientTLSAgainstPlaintext: rediss:// against a plaintext port gets
// no TLS answer. The client makes one attempt (not five of 5 s each) and
// says what is likely wrong.
func TestClientTLSAgainstPlaintext(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	c := New(Options{Addr: r.Addr, TLS: &tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}})
	defer c.Close()
	_, err := c.Info(t.Context(), "server")
	if err == nil {
		t.Fatal("INFO over TLS to a plaintext port succeeded")
	}
	if !strings.Contains(err.Error(), "tls-port") {
		t.Fatalf("error %q does not point at the TLS port", err)
	}
	if strings.Contains(err.Error(), "after 5 attempts") {
		t.Fatalf("the dial was retried: %v", err)
	}
}
