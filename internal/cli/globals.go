package cli

import (
	"errors"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/render"
)

// Globals are the flags every command shares, where its output goes, and
// what a command hands to the application layer.
type Globals struct {
	LogFormat, LogLevel     string
	Config, Target, Storage string
	Output                  string // the running command's -o
	Version                 string // rdbak's, recorded in manifests

	Stdout, Stderr io.Writer
	StdoutTTY      bool
	// Term is stderr when it is a terminal (nil otherwise): the log and
	// the progress line share it.
	Term *render.Term
	Log  *slog.Logger // set by Setup
}

// NewGlobals writes to this process's stdout and stderr.
func NewGlobals(version string) *Globals {
	g := &Globals{Version: version, Stdout: os.Stdout, Stderr: os.Stderr, StdoutTTY: render.IsTerminal(os.Stdout)}
	if render.IsTerminal(os.Stderr) {
		g.Term = render.NewTerm(os.Stderr)
	}
	return g
}

// AddFlags registers the global flags on fs; --config and --storage
// default to $RDBAK_CONFIG and $RDBAK_STORAGE.
func (g *Globals) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&g.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&g.Config, "config", os.Getenv("RDBAK_CONFIG"), "rdbak config file (YAML); see deploy/examples/rdbak.yaml (default: $RDBAK_CONFIG)")
	fs.StringVar(&g.Target, "target", "", "target name: which target of the config file, or the name to store an ad hoc backup under")
	fs.StringVar(&g.Storage, "storage", os.Getenv("RDBAK_STORAGE"), "backup storage URL, e.g. file:///var/backups/rdbak or s3://bucket/prefix?region=eu-west-1 (overrides the config file; default: $RDBAK_STORAGE)")
}

// Setup runs before cmd: it refuses an -o that cmd does not offer, then
// builds the logger (on the terminal line when there is one) and routes
// the Redis and Kubernetes libraries' logs to it.
func (g *Globals) Setup(cmd *cobra.Command) error {
	if err := CheckOutput(cmd, g.Output); err != nil {
		return err
	}
	var w io.Writer = g.Stderr
	if g.Term != nil {
		w = g.Term
	}
	var err error
	if g.Log, err = render.Logger(w, g.LogFormat, g.LogLevel); err != nil {
		return err
	}
	redis.RouteLibraryLogs(g.Log)
	kube.RouteLibraryLogs(g.Log)
	return nil
}

// Structured reports whether -o asks for a result for scripts (JSON or
// YAML), which WriteResult prints.
func (g *Globals) Structured() bool { return render.Structured(g.Output) }

// WriteResult prints v as -o asks: YAML, else JSON.
func (g *Globals) WriteResult(v any) error { return render.Result(g.Stdout, g.Output, v) }

// Print prints v as -o asks: JSON or YAML for scripts, else what text
// writes for people.
func (g *Globals) Print(v any, text func(w io.Writer) error) error {
	if g.Structured() {
		return g.WriteResult(v)
	}
	return text(g.Stdout)
}

// PrintThen prints v as Print does, then returns err: a result shown in
// part (status with a storage it could not read) still fails the command.
func (g *Globals) PrintThen(v any, text func(w io.Writer) error, err error) error {
	return errors.Join(g.Print(v, text), err)
}

// Req is the request of the global flags: where the target and the
// backups are.
func (g *Globals) Req() app.Request {
	return app.Request{Config: g.Config, Target: g.Target, Storage: g.Storage, Log: g.Log}
}

// App returns the application layer for a command whose kubectl flags are
// kf (nil when it has none).
func (g *Globals) App(kf *kube.Flags) *app.App {
	return &app.App{Log: g.Log, Kube: kf, Version: g.Version}
}

// CLIApp is App for a command that prints the error it returns: the jobs
// log their failures at debug level, so that each is printed once.
func (g *Globals) CLIApp(kf *kube.Flags) *app.App {
	a := g.App(kf)
	a.CallerReports = true
	return a
}
