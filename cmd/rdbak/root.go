package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/cli"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// globals are the flags every command shares and where output goes.
type globals = cli.Globals

func newRootCmd() *cobra.Command {
	g := cli.NewGlobals(version)
	root := &cobra.Command{
		Use:               "rdbak",
		Version:           version,
		Short:             "Back up Redis to object storage and restore it, verified end to end",
		Long:              longHelp("rdbak"),
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return g.Setup(cmd) },
		// Runnable with its own Args, so that an unknown command is a
		// usage error rather than cobra's plain one.
		Args:                       cli.RootArgs,
		SuggestionsMinimumDistance: 2,
		RunE:                       func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetOut(g.Stdout)
	root.SetErr(g.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{Err: err} })
	g.AddFlags(root.PersistentFlags())

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
	cli.Completer{Request: g.Req, Now: time.Now}.Register(root)
	root.SetVersionTemplate("rdbak {{.Version}}\n")
	cli.UsageArgs(root)
	return root
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the rdbak version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(g.Stdout, "rdbak %s\n", version)
			return err
		},
	}
}
