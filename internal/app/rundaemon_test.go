package app

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/rdbak/rdbak/internal/daemon"
)

// TestRunDaemon: a config that does not validate, or that schedules
// nothing, is a usage error (exit 2, nothing to retry); a shutdown by the
// context is a success.
func TestRunDaemon(t *testing.T) {
	_, url, _ := fileStore(t)
	dir := t.TempDir()
	a := &App{Log: quiet(), Version: "test"}
	for name, yaml := range map[string]string{
		"unknown key": "storage: " + url + "\ntargets:\n  - {name: a, redis: \"redis://h:1\", schedule: \"@daily\", sheduel: x}\n",
		"no schedule": "storage: " + url + "\ntargets:\n  - {name: a, redis: \"redis://h:1\"}\n",
	} {
		err := a.RunDaemon(t.Context(), writeFile(t, dir, name+".yaml", yaml), daemon.Options{Listen: "127.0.0.1:0"})
		if !isUsage(err) {
			t.Errorf("%s: %v, want a usage error", name, err)
		}
	}
	if err := a.RunDaemon(t.Context(), writeFile(t, dir, "ok.yaml", "storage: "+url+"\ntargets:\n  - {name: a, redis: \"redis://h:1\"}\n"), daemon.Options{}); !errors.Is(err, daemon.ErrNoSchedule) {
		t.Errorf("no schedule: %v, want it to wrap daemon.ErrNoSchedule", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	cfg := writeFile(t, dir, "scheduled.yaml", "storage: "+url+"\ntargets:\n  - {name: a, redis: \"redis://h:1\", schedule: \"@daily\"}\n")
	if err := a.RunDaemon(ctx, cfg, daemon.Options{Listener: ln}); err != nil {
		t.Errorf("a shutdown by the context: %v, want success", err)
	}
}
