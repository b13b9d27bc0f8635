package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/render"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var (
		skipDamaged bool
		idFiles     []string
		kf          *kube.Flags
	)
	cmd := &cobra.Command{
		Use:   "verify ID|PREFIX|latest",
		Short: "Download a backup and check everything against its manifest",
		Long:  longHelp("verify"),
		Args:  cli.ExactArgs(1, "give the backup ID (see 'rdbak list'), a unique prefix of it, or latest"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			prog := render.NewRDBProgress(g.Term, "verify")
			v, err := g.CLIApp(kf).VerifyBackup(ctx, g.Req(), app.RestoreRequest{Ref: args[0], SkipDamaged: skipDamaged, IdentityFiles: idFiles}, prog.Start)
			prog.Stop()
			switch {
			case err != nil:
				return err
			case v.StoredOnly:
				return g.Print(render.StoredOK(v.Manifest, v.Report), func(w io.Writer) error { return render.StoredOKLine(w, v.Manifest, v.Report) })
			}
			return g.Print(render.Verified(v.Manifest, v.Report), func(w io.Writer) error { return render.VerifyLine(w, v.Manifest, v.Report) })
		},
	}
	cmd.Flags().BoolVar(&skipDamaged, "skip-damaged", false, "with latest: if the newest backup is damaged, verify the newest usable one and name the ones skipped")
	cli.AddOutputFlag(cmd, &g.Output)
	cli.AddIdentityFlag(cmd, &idFiles)
	kf = cli.AddKubectlFlags(cmd)
	return cmd
}
