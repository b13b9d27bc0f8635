package kube

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"k8s.io/klog/v2"
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
