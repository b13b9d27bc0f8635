package cli

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rdbak/rdbak/internal/kube"
)

// TestGlobalFlags: --config and --storage default to the environment;
// the request and the application layer carry the flags and the logger.
func TestGlobalFlags(t *testing.T) {
	t.Setenv("RDBAK_CONFIG", "/etc/rdbak.yaml")
	t.Setenv("RDBAK_STORAGE", "file:///backups")
	g := &Globals{Version: "v9"}
	fs := pflag.NewFlagSet("rdbak", pflag.ContinueOnError)
	g.AddFlags(fs)
	if err := fs.Parse([]string{"--target", "cache"}); err != nil {
		t.Fatal(err)
	}
	r := g.Req()
	if r.Config != "/etc/rdbak.yaml" || r.Storage != "file:///backups" || r.Target != "cache" {
		t.Errorf("request %+v, want the environment's config and storage and --target", r)
	}
	if err := fs.Parse([]string{"--storage", "s3://b/p"}); err != nil || g.Req().Storage != "s3://b/p" {
		t.Errorf("--storage does not override $RDBAK_STORAGE: %q, %v", g.Req().Storage, err)
	}
	kf := kube.NewFlags()
	if a := g.App(kf); a.Kube != kf || a.Version != "v9" || a.CallerReports {
		t.Errorf("App: %+v", a)
	}
	if a := g.CLIApp(nil); !a.CallerReports {
		t.Error("CLIApp does not report through the caller")
	}
}

// TestSetup: an -o the command does not offer and a bad log flag are
// usage errors; otherwise the logger writes to stderr.
func TestSetup(t *testing.T) {
	var stderr strings.Builder
	g := &Globals{LogFormat: "json", LogLevel: "info", Stderr: &stderr}
	cmd := &cobra.Command{Use: "list"}
	AddOutputFlag(cmd, &g.Output)
	g.Output = "wide"
	if err := g.Setup(cmd); !isUsage(err) || g.Log != nil {
		t.Errorf("-o wide on a command without it: %v (logger %v), want a usage error first", err, g.Log)
	}
	g.Output, g.LogLevel = "table", "loud"
	if err := g.Setup(cmd); !isUsage(err) || !strings.Contains(err.Error(), "--log-level") {
		t.Errorf("--log-level loud: %v, want a usage error naming it", err)
	}
	g.LogLevel = "info"
	if err := g.Setup(cmd); err != nil || g.Log == nil {
		t.Fatalf("setup: %v", err)
	}
	g.Log.Info("hello")
	if !strings.Contains(stderr.String(), `"msg":"hello"`) {
		t.Errorf("the JSON log went elsewhere: %q", stderr.String())
	}
}

// TestPrint: -o json and yaml print the value, anything else the text.
func TestPrint(t *testing.T) {
	v := map[string]int{"keys": 3}
	text := func(w io.Writer) error { _, err := io.WriteString(w, "3 keys\n"); return err }
	for format, want := range map[string]string{"json": "{\n  \"keys\": 3\n}\n", "yaml": "keys: 3\n", "table": "3 keys\n", "wide": "3 keys\n"} {
		var out strings.Builder
		g := &Globals{Output: format, Stdout: &out}
		if err := g.Print(v, text); err != nil || out.String() != want {
			t.Errorf("-o %s: %q, %v; want %q", format, out.String(), err, want)
		}
	}
}
