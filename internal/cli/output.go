package cli

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/render"
)

const formatsAnnotation = "rdbak-output-formats"

// AddOutputFlag adds -o/--output to cmd, into format: table, json, yaml
// and the extra formats given (wide).
func AddOutputFlag(cmd *cobra.Command, format *string, extra ...string) {
	formats := append([]string{render.Table}, extra...)
	formats = append(formats, render.JSON, render.YAML)
	cmd.Flags().StringVarP(format, "output", "o", render.Table, "output format: "+strings.Join(formats, ", "))
	_ = cmd.Flags().SetAnnotation("output", formatsAnnotation, formats)
}

// CheckOutput refuses an -o format that cmd does not offer, before any
// work.
func CheckOutput(cmd *cobra.Command, format string) error {
	f := cmd.Flags().Lookup("output")
	if f == nil || format == "" {
		return nil
	}
	if formats := f.Annotations[formatsAnnotation]; !slices.Contains(formats, format) {
		return usagef("--output %q: use %s", format, strings.Join(formats, ", "))
	}
	return nil
}
