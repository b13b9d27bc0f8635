package render

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/rdbak/rdbak/internal/app"
)

// Logger is the log of --log-format (text or json) at --log-level
// (debug, info, warn or error) on w; a bad value is a usage error naming
// its flag.
func Logger(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, app.UsageError{Err: fmt.Errorf("--log-level %q: use debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, app.UsageError{Err: fmt.Errorf("--log-format %q: use text or json", format)}
}
