package kube

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/rdbak/rdbak/internal/kubeapi"
)

func TestRouteLibraryLogs(t *testing.T) {
	lease := `error retrieving resource lock ns/rdbak: leases.coordination.k8s.io "rdbak" is forbidden: User "x" cannot get resource "leases"`
	tests := []struct {
		level     slog.Level
		log       func()
		msg       string
		want      bool
		wantLevel string
	}{
		{slog.LevelInfo, func() { klog.ErrorS(errors.New("boom"), "Unknown stream id 1, discarding message") }, "Unknown stream id", false, ""},
		{slog.LevelDebug, func() { klog.ErrorS(errors.New("boom"), "Unknown stream id 1, discarding message") }, "Unknown stream id", true, "level=DEBUG"},
		{slog.LevelInfo, func() { klog.Errorf("%s", lease) }, `cannot get resource`, true, "level=WARN"},
		{slog.LevelInfo, func() { klog.InfoS("attempting to acquire leader lease") }, "attempting to acquire", false, ""},
		{slog.LevelDebug, func() { klog.InfoS("attempting to acquire leader lease") }, "attempting to acquire", true, "level=DEBUG"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		RouteLibraryLogs(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.level})))
		tt.log()
		klog.Flush()
		got := buf.String()
		if strings.Contains(got, tt.msg) != tt.want {
			t.Errorf("%q at %v: got %q, want logged=%v", tt.msg, tt.level, got, tt.want)
		}
		if tt.want && (!strings.Contains(got, tt.wantLevel) || !strings.Contains(got, "component=client-go")) {
			t.Errorf("%q at %v: got %q, want %s of component client-go", tt.msg, tt.level, got, tt.wantLevel)
		}
	}
	klog.ClearLogger()
}

// TestLibraryLogsKeepSecrets: at --log-level debug, client-go's lines up to
// V(6) (kubectl -v=6's request lines) are logged but not the bodies it
// logs from V(8) on: reading the password Secret must not put it, or the
// Secret's other keys, in the log.
func TestLibraryLogsKeepSecrets(t *testing.T) {
	secret := `{"kind":"Secret","apiVersion":"v1","metadata":{"name":"redis","namespace":"prod"},"data":{"password":"` +
		base64.StdEncoding.EncodeToString([]byte("hunter2")) + `","token":"` + base64.StdEncoding.EncodeToString([]byte("other-token")) + `"}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, secret)
	}))
	defer srv.Close()
	var buf bytes.Buffer
	RouteLibraryLogs(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer klog.ClearLogger()
	api, err := kubeapi.New(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	s, err := api.CoreV1().Secrets("prod").Get(t.Context(), "redis", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(s.Data["password"]) != "hunter2" {
		t.Fatalf("read %q, want the Secret's password", s.Data["password"])
	}
	klog.Background().V(6).Info("GET https://api/v1/namespaces/prod/secrets/redis 200 OK")
	klog.Flush()
	got := buf.String()
	if !strings.Contains(got, "200 OK") {
		t.Errorf("log %q: want client-go's V(6) lines at debug level", got)
	}
	for _, leak := range []string{"aHVudGVyMg", "hunter2", "b3RoZXItdG9rZW4", "Response Body"} {
		if strings.Contains(got, leak) {
			t.Errorf("log holds %q:\n%s", leak, got)
		}
	}
}
