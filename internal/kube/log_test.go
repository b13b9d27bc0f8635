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
	tests := []struct {
		level slog.Level
		want  bool
	}{
		{slog.LevelInfo, false},
		{slog.LevelDebug, true},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		RouteLibraryLogs(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.level})))
		klog.ErrorS(errors.New("boom"), "Unknown stream id 1, discarding message")
		klog.Flush()
		got := buf.String()
		if strings.Contains(got, "Unknown stream id") != tt.want {
			t.Errorf("at %v: got %q, want logged=%v", tt.level, got, tt.want)
		}
		if tt.want && (!strings.Contains(got, "level=DEBUG") || !strings.Contains(got, "component=client-go")) {
			t.Errorf("at %v: got %q, want a debug line of component client-go", tt.level, got)
		}
	}
	klog.ClearLogger()
}
