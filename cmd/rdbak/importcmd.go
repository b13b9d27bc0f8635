package main

import (
	"fmt"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/spf13/cobra"
)

func newImportCmd(g *globals) *cobra.Command {
	var o app.ImportOptions
	cmd := &cobra.Command{
		Use:   "import FILE --target NAME (--storage URL | --config FILE)",
		Short: "Bring an existing dump.rdb into the repository as a verified backup",
		Long: `Import an RDB file made outside rdbak (a manual BGSAVE and kubectl cp, an
old cron job's dump) into the repository as a backup of --target: it is
verified as every backup is (structure, CRC-64, length), compressed and
stored with a manifest whose source kind is "import", and from then on it
is listed, verified, pruned and restored like any other.

Its creation time is the RDB's own (the ctime AUX field: when Redis wrote
the snapshot), so retention and --as-of place it where it belongs; --created
overrides it (RFC 3339), for files without one. A damaged file is refused
(exit 4) before anything is written.

Example: kubectl cp prod/redis-0:/data/dump.rdb ./dump.rdb
         rdbak inspect ./dump.rdb
         rdbak import ./dump.rdb --target sessions --storage s3://backups/redis?region=eu-west-1`,
		Args: exactArgs(1, "give the RDB file to import"),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := g.cliApp(nil).Import(cmd.Context(), g.req(), args[0], o)
			if err != nil {
				return err
			}
			if g.structured() {
				return g.writeResult(m)
			}
			_, err = fmt.Fprintln(g.stdout, m.ID)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Created, "created", "", "the backup's creation time (RFC 3339) when the file has no ctime, or to override it")
	f.StringVar(&o.Codec, "compression", "", "compression codec: zstd (default), gzip or none")
	f.StringVar(&o.Level, "level", "", "compression level")
	addEncryptFlags(cmd, &o.Encrypt)
	g.addOutputFlag(cmd)
	return cmd
}
