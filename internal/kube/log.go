package kube

import (
	"context"
	"log/slog"

	"k8s.io/klog/v2"
)

// RouteLibraryLogs sends client-go's own log lines (klog) to log at debug
// level. client-go reports conditions it recovers from, such as a WebSocket
// frame for a stream it already closed ("Unknown stream id 1, discarding
// message"), as klog errors on stderr, where they read like a failed
// backup; rdbak reports its own outcome, so these are only useful when
// debugging.
func RouteLibraryLogs(log *slog.Logger) {
	klog.SetSlogLogger(slog.New(debugHandler{log.Handler().WithAttrs([]slog.Attr{slog.String("component", "client-go")})}))
}

// debugHandler logs every record at debug level.
type debugHandler struct{ h slog.Handler }

func (d debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

// Handle checks the level itself: logr calls it for errors without asking
// Enabled first.
func (d debugHandler) Handle(ctx context.Context, r slog.Record) error {
	if !d.h.Enabled(ctx, slog.LevelDebug) {
		return nil
	}
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d debugHandler) WithAttrs(as []slog.Attr) slog.Handler { return debugHandler{d.h.WithAttrs(as)} }
func (d debugHandler) WithGroup(name string) slog.Handler    { return debugHandler{d.h.WithGroup(name)} }
