package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rdbak/rdbak/internal/render"
)

const formatsAnnotation = "rdbak-output-formats"

// addOutputFlag adds -o/--output to cmd: table, json, yaml and the extra
// formats given (wide).
func (g *globals) addOutputFlag(cmd *cobra.Command, extra ...string) {
	formats := append([]string{render.Table}, extra...)
	formats = append(formats, render.JSON, render.YAML)
	cmd.Flags().StringVarP(&g.output, "output", "o", render.Table, "output format: "+strings.Join(formats, ", "))
	_ = cmd.Flags().SetAnnotation("output", formatsAnnotation, formats)
}

// checkOutput refuses an -o that cmd does not offer, before any work.
func (g *globals) checkOutput(cmd *cobra.Command) error {
	f := cmd.Flags().Lookup("output")
	if f == nil || g.output == "" {
		return nil
	}
	if formats := f.Annotations[formatsAnnotation]; !slices.Contains(formats, g.output) {
		return usagef("--output %q: use %s", g.output, strings.Join(formats, ", "))
	}
	return nil
}

// structured reports whether -o asks for a result for scripts (JSON or
// YAML), which writeResult prints.
func (g *globals) structured() bool { return render.Structured(g.output) }

// writeResult prints v as -o asks: YAML, else JSON.
func (g *globals) writeResult(v any) error { return render.Result(g.stdout, g.output, v) }
