package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Output formats of -o. table is for people; json and yaml print the same
// result for scripts, as kubectl does (YAML keys are the JSON ones).
const (
	outTable = "table"
	outWide  = "wide"
	outJSON  = "json"
	outYAML  = "yaml"
)

const formatsAnnotation = "rdbak-output-formats"

// addOutputFlag adds -o/--output to cmd: table, json, yaml and the extra
// formats given (wide).
func (g *globals) addOutputFlag(cmd *cobra.Command, extra ...string) {
	formats := append([]string{outTable}, extra...)
	formats = append(formats, outJSON, outYAML)
	cmd.Flags().StringVarP(&g.output, "output", "o", outTable, "output format: "+strings.Join(formats, ", "))
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

// jsonOutput reports whether -o asks for a structured result (JSON or
// YAML), which writeResult prints.
func (g *globals) jsonOutput() (bool, error) {
	return g.output == outJSON || g.output == outYAML, nil
}

// writeResult prints v as -o asks: YAML, else JSON.
func (g *globals) writeResult(v any) error {
	if g.output == outYAML {
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("print the result as YAML: %w", err)
		}
		_, err = g.stdout.Write(b)
		return err
	}
	return writeJSON(g.stdout, v)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
