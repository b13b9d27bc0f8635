package kube

import (
	"context"
	"log/slog"
	"strings"

	"k8s.io/klog/v2"
)

// RouteLibraryLogs sends client-go's own log lines (klog) to log. Its info
// lines go to debug level. Its errors stay visible as warnings — a daemon
// replica refused its Lease ("cannot get resource "leases"") must say so at
// the default level — except the conditions client-go reports as errors and
// recovers from, such as a WebSocket frame for a stream it already closed
// ("Unknown stream id 1, discarding message"), which read like a failed
// backup on stderr and go to debug.
func RouteLibraryLogs(log *slog.Logger) {
	klog.SetSlogLogger(slog.New(libraryHandler{log.Handler().WithAttrs([]slog.Attr{slog.String("component", "client-go")})}))
}

// maxVerbosity is the most detailed client-go level passed on: 6, what
// kubectl -v=6 shows (each request's verb, URL, status and time). From 7
// on client-go logs headers, and from 8 the request and response bodies:
// a Secret rdbak reads (the Redis password, the age identity of encrypted
// backups, every other key of a shared Secret) would be in the log.
const maxVerbosity = 6

// recovered are the messages of client-go errors that need no action.
var recovered = []string{"Unknown stream id"}

// libraryHandler lowers client-go's records: errors to warnings (debug for
// the recovered ones), everything else to debug.
type libraryHandler struct{ h slog.Handler }

func (d libraryHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if tooDetailed(l) {
		return false
	}
	return d.h.Enabled(ctx, slog.LevelDebug) || l >= slog.LevelError && d.h.Enabled(ctx, slog.LevelWarn)
}

// Handle picks the level itself: logr calls it for errors without asking
// Enabled first.
func (d libraryHandler) Handle(ctx context.Context, r slog.Record) error {
	if tooDetailed(r.Level) {
		return nil
	}
	level := slog.LevelDebug
	if r.Level >= slog.LevelError && !isRecovered(r.Message) {
		level = slog.LevelWarn
	}
	if !d.h.Enabled(ctx, level) {
		return nil
	}
	r.Level = level
	return d.h.Handle(ctx, r)
}

// tooDetailed reports whether a record of level l (logr's V(n) arrives
// as slog level -n) is beyond maxVerbosity.
func tooDetailed(l slog.Level) bool { return l < -maxVerbosity }

func isRecovered(msg string) bool {
	for _, m := range recovered {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

func (d libraryHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return libraryHandler{d.h.WithAttrs(as)}
}
func (d libraryHandler) WithGroup(name string) slog.Handler {
	return libraryHandler{d.h.WithGroup(name)}
}
