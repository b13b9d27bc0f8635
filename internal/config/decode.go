package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// origin records where a field came from, for error messages.
type origin struct {
	line int      // 1-based line of the key (or list item); 0 if unknown
	env  []string // variables expanded into the value; non-empty means the value must not be shown
}

// decoder is a strict YAML-to-struct decoder. yaml.v3's KnownFields reports
// unknown keys as "field x not found in type config.Target"; walking the node
// tree ourselves lets every error name the file, line and document path
// ("targets[0].passwrod") and lets ${ENV} expansion happen on values only.
type decoder struct {
	file   string
	env    func(string) (string, bool)
	origin map[string]origin
	errs   []error
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeFile parses data into f, recording each field's origin in f.origin.
// It reports all decoding errors it finds, joined.
func decodeFile(f *File, data []byte, env func(string) (string, bool)) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file; Validate says what is missing
		}
		return syntaxError(f.path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return &FieldError{File: f.path, Line: extra.Line, Msg: "a second YAML document (---) is not allowed", Hint: "put all targets in one document"}
	} else if !errors.Is(err, io.EOF) {
		return syntaxError(f.path, err)
	}
	d := &decoder{file: f.path, env: env, origin: f.origin}
	d.value(&doc, reflect.ValueOf(f).Elem(), "")
	return errors.Join(d.errs...)
}

// syntaxError turns yaml's "yaml: line 3: msg" into "rdbak.yaml:3: msg".
func syntaxError(file string, err error) error {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
	}
	return &FieldError{File: file, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

func (d *decoder) fail(n *yaml.Node, path, msg, hint string) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: n.Line, Field: path, Msg: msg, Hint: hint})
}

// value decodes n into v, whose document path is path ("" for the root).
// Aliases (*name) are followed. That cannot blow up ("billion laughs"): only
// known fields are descended into and the config has no nested lists, so an
// alias costs at most the size of one target.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			d.value(n.Content[0], v, path)
		}
		return
	case yaml.AliasNode:
		d.value(n.Alias, v, path)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // "key:" or "key: null" leaves the default in place
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	default:
		d.scalar(n, v, path)
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping (key: value lines), got "+describe(n), "")
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "expected a field name, got "+describe(k), "")
			continue
		}
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k, "", fmt.Sprintf("unknown field %q in %s", k.Value, where(path)), "known fields: "+strings.Join(sortedKeys(fields), ", "))
			continue
		}
		sub := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.fail(k, sub, fmt.Sprintf("set twice (first at line %d)", first), "remove one of them")
			continue
		}
		seen[k.Value] = k.Line
		d.origin[sub] = origin{line: k.Line}
		if v.Type().Field(idx).Tag.Get("rdbak") == "storage" && resolve(val).Kind == yaml.MappingNode {
			d.storageField(resolve(val), v.Field(idx), sub)
			continue
		}
		d.value(val, v.Field(idx), sub)
	}
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list (lines starting with -), got "+describe(n), "")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		sub := fmt.Sprintf("%s[%d]", path, i)
		d.origin[sub] = origin{line: item.Line}
		d.value(item, s.Index(i), sub)
	}
	v.Set(s)
}

var durationType = reflect.TypeFor[time.Duration]()

// scalar decodes a leaf value after ${ENV} expansion. It accepts only the
// kinds the config structs use, so a new field of another kind fails loudly
// in tests rather than decoding by accident.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a single value, got "+describe(n), "")
		return
	}
	s, used, err := expand(n.Value, d.env)
	if err != nil {
		d.fail(n, path, err.Error(), "")
		return
	}
	o := d.origin[path]
	o.env = used
	d.origin[path] = o
	shown := show(s, used)
	switch {
	case v.Type() == durationType:
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.fail(n, path, "invalid duration "+shown, "write a number with a unit, e.g. 90s, 30m or 1h30m")
			return
		}
		v.SetInt(int64(dur))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			d.fail(n, path, "expected true or false, got "+shown, "")
			return
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int:
		i, err := strconv.Atoi(s)
		if err != nil {
			d.fail(n, path, "expected a whole number, got "+shown, "")
			return
		}
		v.SetInt(int64(i))
	default:
		d.fail(n, path, fmt.Sprintf("internal error: config field of type %s cannot be decoded", v.Type()), "")
	}
}

// show quotes a value for an error message, unless part of it came from the
// environment: such values may be secrets.
func show(s string, env []string) string {
	if len(env) == 0 {
		return strconv.Quote(s)
	}
	return "(value not shown, it contains ${" + strings.Join(env, "}, ${") + "})"
}

// yamlFields maps the yaml tag names of t's exported fields to field indexes.
func yamlFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func where(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a single value"
}
