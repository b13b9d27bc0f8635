package main

import (
	"fmt"
	"io"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/cli"
	"github.com/spf13/cobra"
)

func newImportCmd(g *globals) *cobra.Command {
	var o app.ImportOptions
	cmd := &cobra.Command{
		Use:   "import FILE --target NAME (--storage URL | --config FILE)",
		Short: "Bring an existing dump.rdb into the repository as a verified backup",
		Long:  longHelp("import"),
		Args:  cli.ExactArgs(1, "give the RDB file to import"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.CLIApp(nil).Import(cmd.Context(), g.Req(), args[0], o)
			if err != nil {
				return err
			}
			return g.Print(m, func(w io.Writer) error { _, err := fmt.Fprintln(w, m.ID); return err })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Created, "created", "", "the backup's creation time (RFC 3339) when the file has no ctime, or to override it")
	f.StringVar(&o.Codec, "compression", "", "compression codec: zstd (default), gzip or none")
	f.StringVar(&o.Level, "level", "", "compression level")
	cli.AddEncryptFlags(cmd, &o.Encrypt)
	cli.AddOutputFlag(cmd, &g.Output)
	return cmd
}
