package main

import (
	"sync/atomic"

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
			b, err := g.cliApp(kf).OpenBackup(ctx, g.req(), app.RestoreRequest{Ref: args[0], SkipDamaged: skipDamaged, IdentityFiles: idFiles})
			if err != nil {
				return err
			}
			defer b.Close()
			repo, m := b.Repo, b.Manifest
			if m.Data.Encrypted() && b.Identities.Len() == 0 {
				rep, err := g.cliApp(nil).VerifyStored(ctx, repo, m)
				if err != nil {
					return err
				}
				if g.structured() {
					return g.writeResult(render.StoredOK(m, rep))
				}
				return render.StoredOKLine(g.stdout, m, rep)
			}
			var done atomic.Int64
			line := render.StartProgress(g.term, func() render.State {
				return render.State{Phase: "verify", Done: done.Load(), Total: m.Data.RawSize}
			})
			rep, err := g.cliApp(nil).Verify(ctx, repo, m, b.Identities, func(n int) { done.Add(int64(n)) })
			line.Stop()
			if err != nil {
				return err
			}
			if g.structured() {
				return g.writeResult(render.Verified(m, rep))
			}
			return render.VerifyLine(g.stdout, m, rep)
		},
	}
	cmd.Flags().BoolVar(&skipDamaged, "skip-damaged", false, "with latest: if the newest backup is damaged, verify the newest usable one and name the ones skipped")
	cli.AddOutputFlag(cmd, &g.output)
	cli.AddIdentityFlag(cmd, &idFiles)
	kf = cli.AddKubectlFlags(cmd)
	return cmd
}
