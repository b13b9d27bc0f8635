package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// hook is a webhook receiver that fails the first failures requests.
type hook struct {
	srv      *httptest.Server
	mu       sync.Mutex
	failures int
	bodies   []Notification
	calls    int
}

func newHook(t *testing.T, failures int) *hook {
	h := &hook{failures: failures}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls++
		if r.Method != http.MethodPost || r.URL.Path != "/services/T0/s3cr3t-token" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if h.failures > 0 {
			h.failures--
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var n Notification
		if err := json.Unmarshal(b, &n); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.bodies = append(h.bodies, n)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) url() string { return h.srv.URL + "/services/T0/s3cr3t-token" }

func retries(n int) *int { return &n }

func TestSendWebhookRetries(t *testing.T) {
	h := newHook(t, 2)
	n := Notification{Text: "rdbak: backup of cache failed: boom", Event: EventBackupFailed, Target: "cache", Error: "boom"}
	if err := SendWebhook(t.Context(), nil, config.Webhook{URL: h.url()}, n, time.Millisecond); err != nil {
		t.Fatalf("SendWebhook: %v", err)
	}
	if h.calls != 3 || len(h.bodies) != 1 || h.bodies[0].Text != n.Text || h.bodies[0].Event != EventBackupFailed {
		t.Fatalf("%d calls, bodies %+v; want 3 calls, the notification delivered once", h.calls, h.bodies)
	}

	down := newHook(t, 100)
	err := SendWebhook(t.Context(), nil, config.Webhook{URL: down.url(), Retries: retries(2)}, n, time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "3 attempts failed") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v, want 3 failed attempts", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("the error shows the URL's token: %v", err)
	}
	if down.calls != 3 {
		t.Errorf("%d calls, want 3", down.calls)
	}

	// urlFile is read when sending.
	file := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(file, []byte(h.url()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SendWebhook(t.Context(), nil, config.Webhook{URLFile: file}, n, time.Millisecond); err != nil || len(h.bodies) != 2 {
		t.Fatalf("urlFile: %v, %d bodies", err, len(h.bodies))
	}
}

// TestNotifyOnFailures: a failed backup and a failed drill each POST one
// notification; the log never shows the webhook's URL.
func TestNotifyOnFailures(t *testing.T) {
	h := newHook(t, 1)
	logs := &testenv.Buffer{}
	a := &App{Log: slog.New(slog.NewTextHandler(logs, nil)), Version: "test", NotifyBackoff: time.Millisecond}
	tgt := &config.Target{Name: "cache", Redis: "redis://127.0.0.1:1", Notify: config.Notify{Webhook: config.Webhook{URL: h.url()}}}
	repo, err := storage.Open(t.Context(), "file://"+t.TempDir(), storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	comp, _ := Compression(config.Compression{Codec: config.CodecNone})
	if _, err := a.Backup(t.Context(), tgt, repo, comp, nil); err == nil {
		t.Fatal("a backup of a closed port succeeded")
	}
	// A drill with no scratch server at all fails before reading data.
	t.Setenv("PATH", t.TempDir())
	now := time.Now().UTC()
	m := &storage.Manifest{Format: storage.ManifestFormat, ID: storage.NewID(now), Target: "cache", Created: now, Finished: now, Data: storage.Data{Name: "dump.rdb"}}
	if err := repo.Commit(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Drill(t.Context(), repo, m, tgt, DrillOptions{}); err == nil {
		t.Fatal("a drill without a scratch server succeeded")
	}
	if len(h.bodies) != 2 || h.bodies[0].Event != EventBackupFailed || h.bodies[1].Event != EventDrillFailed || h.bodies[1].BackupID != m.ID {
		t.Fatalf("notifications %+v, want backup_failed then drill_failed", h.bodies)
	}
	if !strings.HasPrefix(h.bodies[0].Text, "rdbak: backup of cache failed: ") || !strings.Contains(h.bodies[1].Text, "no redis-server or valkey-server") {
		t.Errorf("texts %q, %q", h.bodies[0].Text, h.bodies[1].Text)
	}
	if strings.Contains(logs.String(), "s3cr3t") {
		t.Errorf("the log shows the webhook URL:\n%s", logs)
	}
}

func TestNotifyPruneFailure(t *testing.T) {
	h := newHook(t, 0)
	tgt := &config.Target{Name: "cache", Retention: config.Retention{KeepWithin: "bogus"}, Notify: config.Notify{Webhook: config.Webhook{URL: h.url()}}}
	repo, err := storage.Open(t.Context(), "file://"+t.TempDir(), storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	a := AfterBackup(t.Context(), slog.New(slog.DiscardHandler), repo, tgt, AfterOptions{Prune: true, Notifier: Notifier{Backoff: time.Millisecond}})
	if a.PruneErr == nil || len(h.bodies) != 1 || h.bodies[0].Event != EventPruneFailed || !strings.Contains(h.bodies[0].Text, "retention after a backup of cache failed") {
		t.Fatalf("prune error %v, notifications %+v", a.PruneErr, h.bodies)
	}
}
