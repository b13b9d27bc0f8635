package render

import (
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"
)

// Output formats of -o. table is for people; json and yaml print the same
// result for scripts, as kubectl does (YAML keys are the JSON ones).
const (
	Table = "table"
	Wide  = "wide"
	JSON  = "json"
	YAML  = "yaml"
)

// Structured reports whether format asks for a result for scripts.
func Structured(format string) bool { return format == JSON || format == YAML }

// Result prints v as format asks: YAML, else JSON.
func Result(w io.Writer, format string, v any) error {
	if format == YAML {
		b, err := yaml.Marshal(v)
		if err != nil {
			return fmt.Errorf("print the result as YAML: %w", err)
		}
		_, err = w.Write(b)
		return err
	}
	return WriteJSON(w, v)
}

// WriteJSON prints v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
