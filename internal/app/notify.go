package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/rdbak/rdbak/internal/config"
)

// Notification events.
const (
	EventBackupFailed = "backup_failed"
	EventPruneFailed  = "prune_failed"
	EventDrillFailed  = "drill_failed"
)

// Notification is the JSON body a webhook receives. Text makes it a valid
// Slack (and Mattermost, Rocket.Chat) incoming-webhook message; the other
// fields are for receivers that route on them.
type Notification struct {
	Text     string    `json:"text"`
	Event    string    `json:"event"`
	Target   string    `json:"target"`
	BackupID string    `json:"backupId,omitempty"`
	Error    string    `json:"error"`
	Time     time.Time `json:"time"`
	Host     string    `json:"host,omitempty"`
	Rdbak    string    `json:"rdbak"`
}

// notifyBackoff is the first pause between webhook attempts; each next one
// doubles it.
const notifyBackoff = time.Second

// Notifier sends failure notifications to a target's webhook. The zero
// value uses http.DefaultClient and pauses of 1s, 2s, 4s... between
// attempts.
type Notifier struct {
	Client  *http.Client
	Backoff time.Duration
	Version string // rdbak's, in the body
}

// notifier is the App's Notifier.
func (a *App) notifier() Notifier {
	return Notifier{Client: a.HTTPClient, Backoff: a.NotifyBackoff, Version: a.Version}
}

// Notify tells t's webhook, if any, that event happened to it (cause is
// the failure; nil sends nothing). It is best effort and returns when
// delivered or given up on: the failure it reports is already decided and
// logged, so a webhook that fails is logged as a warning, naming its host
// only.
func (nf Notifier) Notify(ctx context.Context, log *slog.Logger, t *config.Target, event, backupID string, cause error) {
	w := t.Notify.Webhook
	if !w.Set() || cause == nil {
		return
	}
	host, _ := os.Hostname()
	n := Notification{Event: event, Target: t.Name, BackupID: backupID, Error: cause.Error(), Time: time.Now().UTC(), Host: host, Rdbak: nf.Version}
	what := map[string]string{EventBackupFailed: "backup", EventPruneFailed: "retention after a backup", EventDrillFailed: "restore drill"}[event]
	n.Text = fmt.Sprintf("rdbak: %s of %s failed", what, t.Name)
	if backupID != "" {
		n.Text += " (backup " + backupID + ")"
	}
	n.Text += ": " + cause.Error()
	ctx = context.WithoutCancel(ctx) // report a failure even when it was a cancellation
	if err := SendWebhook(ctx, nf.Client, w, n, nf.Backoff); err != nil {
		log.Warn("failure notification not delivered", "event", event, "error", err.Error())
	}
}

// SendWebhook POSTs n to w as JSON, retrying failed attempts (errors and
// answers other than 2xx) w.RetriesOrDefault() times with pauses doubling
// from backoff (notifyBackoff when 0). Errors name the URL's host, never
// the URL, which usually holds a token.
func SendWebhook(ctx context.Context, client *http.Client, w config.Webhook, n Notification, backoff time.Duration) error {
	if client == nil {
		client = http.DefaultClient
	}
	if backoff <= 0 {
		backoff = notifyBackoff
	}
	raw, err := w.Endpoint()
	if err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("notify webhook: the URL is not an http:// or https:// URL with a host")
	}
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("notify webhook at %s: encode: %w", u.Host, err)
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = config.DefaultWebhookTimeout
	}
	var last error
	for attempt := 0; attempt <= w.RetriesOrDefault(); attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(backoff << (attempt - 1)):
			case <-ctx.Done():
				return fmt.Errorf("notify webhook at %s: %w (after: %w)", u.Host, ctx.Err(), last)
			}
		}
		if last = post(ctx, client, raw, body, timeout); last == nil {
			return nil
		}
	}
	return fmt.Errorf("notify webhook at %s: %d attempts failed, the last: %w", u.Host, w.RetriesOrDefault()+1, last)
}

func post(ctx context.Context, client *http.Client, raw string, body []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, raw, bytes.NewReader(body))
	if err != nil {
		return unwrapURL(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rdbak")
	resp, err := client.Do(req)
	if err != nil {
		return unwrapURL(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
