package config

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Notify says whom to tell when something fails: a backup, retention or
// orphan collection after one, or a restore drill. A target without its
// own notify block inherits defaults.notify whole.
type Notify struct {
	Webhook Webhook `yaml:"webhook"`
}

// Webhook is an HTTP endpoint that receives a JSON POST per failure, in a
// shape Slack's incoming webhooks accept (a text field) with the details
// beside it. Its URL usually holds a token: it is read from a file or an
// environment variable when sent, and never shown in messages or logs.
type Webhook struct {
	// Exactly one of URL, URLFile and URLEnv.
	URL     string `yaml:"url"`
	URLFile string `yaml:"urlFile"` // read at each call (mounted secrets rotate)
	URLEnv  string `yaml:"urlEnv"`  // the variable's name
	// Timeout bounds each attempt; default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries after a failed attempt (an error or an answer other than
	// 2xx), with doubling pauses from one second; default 3.
	Retries *int `yaml:"retries"`

	lookupEnv func(string) (string, bool)
}

// Notify defaults.
const (
	DefaultWebhookTimeout = 10 * time.Second
	DefaultWebhookRetries = 3
)

// Set reports whether a webhook is configured.
func (w Webhook) Set() bool { return w.URL != "" || w.URLFile != "" || w.URLEnv != "" }

// RetriesOrDefault is Retries, or DefaultWebhookRetries when unset.
func (w Webhook) RetriesOrDefault() int {
	if w.Retries == nil {
		return DefaultWebhookRetries
	}
	return *w.Retries
}

// Endpoint returns the webhook's URL, read now from urlFile or urlEnv when
// so configured. Errors name the field, never the URL.
func (w Webhook) Endpoint() (string, error) {
	switch {
	case w.URLFile != "":
		fh, err := os.Open(w.URLFile)
		if err != nil {
			return "", fmt.Errorf("read notify.webhook.urlFile: %w", err)
		}
		defer fh.Close()
		b, err := io.ReadAll(io.LimitReader(fh, maxPasswordFile))
		if err != nil {
			return "", fmt.Errorf("read notify.webhook.urlFile: %w", err)
		}
		u := strings.TrimSpace(string(b))
		if u == "" {
			return "", fmt.Errorf("read notify.webhook.urlFile: %s is empty", w.URLFile)
		}
		return u, nil
	case w.URLEnv != "":
		lookup := w.lookupEnv
		if lookup == nil {
			lookup = os.LookupEnv
		}
		u, ok := lookup(w.URLEnv)
		if !ok || strings.TrimSpace(u) == "" {
			return "", fmt.Errorf("read notify.webhook.urlEnv: environment variable %s is unset or empty", w.URLEnv)
		}
		return strings.TrimSpace(u), nil
	}
	return w.URL, nil
}

func (f *File) applyNotifyDefaults(i int) {
	t := &f.Targets[i]
	if !f.isSet(fmt.Sprintf("targets[%d].notify", i), t.Notify.Webhook.Set()) {
		t.Notify = f.Defaults.Notify
	}
	if u := &t.Notify.Webhook.URLFile; *u != "" && !filepath.IsAbs(*u) {
		*u = filepath.Join(filepath.Dir(f.path), *u)
	}
	if t.Notify.Webhook.Set() {
		t.Notify.Webhook.lookupEnv = t.lookupEnv
	}
}

func (v *validator) notify(p string, n Notify) {
	w := n.Webhook
	p += ".webhook"
	set := 0
	for _, s := range []string{w.URL, w.URLFile, w.URLEnv} {
		if s != "" {
			set++
		}
	}
	switch {
	case set == 0 && (w.Timeout != 0 || w.Retries != nil):
		v.fail(p+".url", "missing", "give url, urlFile or urlEnv")
	case set > 1:
		v.fail(p, "give one of url, urlFile and urlEnv", "")
	}
	if w.URL != "" {
		// The URL is never shown: it is often the secret itself.
		u, err := url.Parse(w.URL)
		switch {
		case err != nil:
			v.fail(p+".url", "not a valid URL: "+urlErr(err).Error(), "")
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			v.fail(p+".url", "must be an http:// or https:// URL with a host", "")
		}
	}
	v.nonNegative(p+".timeout", w.Timeout)
	if w.Retries != nil && (*w.Retries < 0 || *w.Retries > 10) {
		v.fail(p+".retries", "must be 0 to 10", "omit it for 3")
	}
}
