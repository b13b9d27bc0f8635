package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/render"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// globals are the flags every command shares.
type globals struct {
	logFormat string
	logLevel  string
	config    string
	target    string
	storage   string
	output    string

	stdout, stderr io.Writer
	stdoutTTY      bool
	// term is stderr when it is a terminal (nil otherwise): the log and
	// the progress line share it.
	term *render.Term
	log  *slog.Logger
}

func newRootCmd() *cobra.Command {
	g := &globals{stdout: os.Stdout, stderr: os.Stderr, stdoutTTY: render.IsTerminal(os.Stdout)}
	if render.IsTerminal(os.Stderr) {
		g.term = render.NewTerm(os.Stderr)
	}
	root := &cobra.Command{
		Use:           "rdbak",
		Version:       version,
		Short:         "Back up Redis to object storage and restore it, verified end to end",
		Long:          longHelp("rdbak"),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckOutput(cmd, g.output); err != nil {
				return err
			}
			return g.setup()
		},
		// Runnable with its own Args, so that an unknown command is a
		// usage error rather than cobra's plain one.
		Args:                       cli.RootArgs,
		SuggestionsMinimumDistance: 2,
		RunE:                       func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{Err: err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	pf.StringVar(&g.config, "config", os.Getenv("RDBAK_CONFIG"), "rdbak config file (YAML); see deploy/examples/rdbak.yaml (default: $RDBAK_CONFIG)")
	pf.StringVar(&g.target, "target", "", "target name: which target of the config file, or the name to store an ad hoc backup under")
	pf.StringVar(&g.storage, "storage", os.Getenv("RDBAK_STORAGE"), "backup storage URL, e.g. file:///var/backups/rdbak or s3://bucket/prefix?region=eu-west-1 (overrides the config file; default: $RDBAK_STORAGE)")

	root.AddCommand(
		newNowCmd(g),
		newStatusCmd(g),
		newListCmd(g),
		newDescribeCmd(g),
		newVerifyCmd(g),
		newDrillCmd(g),
		newRestoreCmd(g),
		newGCCmd(g),
		newPruneCmd(g),
		newDaemonCmd(g),
		newConfigCmd(g),
		newVersionCmd(g),
		newReceiveCmd(g),
		newInspectCmd(g),
		newImportCmd(g),
		newPauseCmd(),
	)
	root.SetHelpTemplate(root.HelpTemplate())
	cli.SetUsage(root)
	cli.Completer{Request: g.req, Now: time.Now}.Register(root)
	root.SetVersionTemplate("rdbak {{.Version}}\n")
	cli.UsageArgs(root)
	return root
}

func (g *globals) setup() error {
	var w io.Writer = g.stderr
	if g.term != nil {
		w = g.term
	}
	var err error
	if g.log, err = render.Logger(w, g.logFormat, g.logLevel); err != nil {
		return err
	}
	redis.RouteLibraryLogs(g.log)
	kube.RouteLibraryLogs(g.log)
	return nil
}

// structured reports whether -o asks for a result for scripts (JSON or
// YAML), which writeResult prints.
func (g *globals) structured() bool { return render.Structured(g.output) }

// writeResult prints v as -o asks: YAML, else JSON.
func (g *globals) writeResult(v any) error { return render.Result(g.stdout, g.output, v) }

// print prints v as -o asks: JSON or YAML for scripts, else what text
// writes for people.
func (g *globals) print(v any, text func(w io.Writer) error) error {
	if g.structured() {
		return g.writeResult(v)
	}
	return text(g.stdout)
}

// req is the request of the global flags: where the target and the
// backups are.
func (g *globals) req() app.Request {
	return app.Request{Config: g.config, Target: g.target, Storage: g.storage, Log: g.log}
}

// app returns the application layer for a command whose kubectl flags are
// kf (nil when it has none).
func (g *globals) app(kf *kube.Flags) *app.App {
	return &app.App{Log: g.log, Kube: kf, Version: version}
}

// cliApp is app for a command that prints the error it returns: the jobs
// log their failures at debug level, so that each is printed once.
func (g *globals) cliApp(kf *kube.Flags) *app.App {
	a := g.app(kf)
	a.CallerReports = true
	return a
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the rdbak version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(g.stdout, "rdbak %s\n", version)
			return err
		},
	}
}
