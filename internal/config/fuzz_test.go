package config

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// fuzzSecret is what the fuzz environment returns for variables starting
// with S; it must never appear in an error unless the input itself has it.
const fuzzSecret = "zq-secret-zq"

func fuzzEnv(name string) (string, bool) {
	switch {
	case strings.HasPrefix(name, "S"):
		return fuzzSecret, true
	case strings.HasPrefix(name, "U"):
		return "", false
	}
	return strings.ToLower(name), true
}

// FuzzParse checks that Parse never panics, that whatever it accepts is
// valid and usable, and that its errors are all located FieldErrors that do
// not leak environment values.
func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile(examplePath); err == nil {
		f.Add(example)
	} else {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "rdbak.yaml", fuzzEnv)
		if err != nil {
			if strings.Contains(err.Error(), fuzzSecret) && !bytes.Contains(data, []byte(fuzzSecret)) {
				t.Fatalf("error leaks an environment value: %v", err)
			}
			for _, fe := range fieldErrors(t, err) {
				if fe.File != "rdbak.yaml" {
					t.Fatalf("error without the file name: %v", fe)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects: %v", err)
		}
		if len(cfg.Targets) == 0 {
			t.Fatal("Parse accepted a config without targets")
		}
		for i := range cfg.Targets {
			tg := &cfg.Targets[i]
			if tg.Storage == "" || tg.Source == "" {
				t.Fatalf("targets[%d] lacks defaults: %+v", i, tg)
			}
			if _, _, err := tg.Endpoint(); err != nil {
				t.Fatalf("targets[%d].Endpoint of a valid config: %v", i, err)
			}
			if got, err := cfg.Target(tg.Name); err != nil || got != tg {
				t.Fatalf("Target(%q) = %v, %v; want targets[%d]", tg.Name, got, err, i)
			}
			if tg.PasswordFile == "" { // do not let the fuzzer read files
				if _, err := tg.Password(); err != nil && strings.Contains(err.Error(), fuzzSecret) && !bytes.Contains(data, []byte(fuzzSecret)) {
					t.Fatalf("Password error leaks an environment value: %v", err)
				}
			}
		}
		if w := strings.Join(cfg.Warnings(), "\n"); strings.Contains(w, fuzzSecret) {
			t.Fatalf("warning leaks an environment value: %s", w)
		}
	})
}
