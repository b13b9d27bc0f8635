package redis

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// RouteLibraryLogs sends go-redis's own log lines (connection pool retries,
// which it otherwise prints to stderr) to log at debug level: the error
// that matters reaches the user through the returned error already.
func RouteLibraryLogs(log *slog.Logger) {
	goredis.SetLogger(libraryLogger{log})
}

type libraryLogger struct{ log *slog.Logger }

func (l libraryLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
