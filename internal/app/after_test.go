package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/config"
)

func TestCallHeartbeat(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		if strings.HasSuffix(r.URL.Path, "/gone") {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	if err := CallHeartbeat(t.Context(), nil, config.Heartbeat{URL: srv.URL + "/ping/s3cret"}); err != nil {
		t.Fatal(err)
	}
	if err := CallHeartbeat(t.Context(), nil, config.Heartbeat{URL: srv.URL + "/ping/s3cret", Method: "POST"}); err != nil {
		t.Fatal(err)
	}
	if want := "GET /ping/s3cret,POST /ping/s3cret"; strings.Join(got, ",") != want {
		t.Errorf("calls %v, want %s", got, want)
	}
	errs := []error{
		CallHeartbeat(t.Context(), nil, config.Heartbeat{URL: srv.URL + "/s3cret/gone"}),
		CallHeartbeat(t.Context(), nil, config.Heartbeat{URL: "http://127.0.0.1:1/s3cret", Timeout: time.Second}),
	}
	for i, err := range errs {
		if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "heartbeat at 127.0.0.1:") {
			t.Errorf("error %d = %v; want a failure naming the host, never the URL's token", i, err)
		}
	}
	if !strings.Contains(errs[0].Error(), "404") {
		t.Errorf("a 404 answer: %v", errs[0])
	}
}
