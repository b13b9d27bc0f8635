package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/storage"
)

func isUsage(err error) bool { return errors.As(err, new(app.UsageError)) }

func TestFlagSections(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("own", "", "a flag of the command")
	fs.String("pod", "", "a target flag")
	fs.String("kubeconfig", "", "a kubeconfig flag")
	MarkGroup(fs.Lookup("pod"), GroupKubernetes)
	MarkGroup(fs.Lookup("kubeconfig"), GroupKubectl)
	got := flagSections(fs)
	want := []struct{ title, flag string }{{"Flags", "--own"}, {GroupKubernetes, "--pod"}, {GroupKubectl, "--kubeconfig"}}
	if len(got) != len(want) {
		t.Fatalf("got %d sections %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].Title != w.title || !strings.Contains(got[i].Usages, w.flag) || strings.Count(got[i].Usages, "--") != 1 {
			t.Errorf("section %d = %+v, want %q holding %s alone", i, got[i], w.title, w.flag)
		}
	}

	only := pflag.NewFlagSet("t", pflag.ContinueOnError)
	only.String("own", "", "")
	if got := flagSections(only); len(got) != 1 || got[0].Title != "Flags" {
		t.Errorf("a command without grouped flags got sections %+v, want Flags only", got)
	}
}

func TestArgsAreUsageErrors(t *testing.T) {
	root := &cobra.Command{Use: "rdbak", Args: RootArgs, SuggestionsMinimumDistance: 2, RunE: func(*cobra.Command, []string) error { return nil }}
	sub := &cobra.Command{Use: "describe", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }}
	exact := &cobra.Command{Use: "verify", Args: ExactArgs(1, "give the backup ID"), RunE: func(*cobra.Command, []string) error { return nil }}
	root.AddCommand(sub, exact)
	UsageArgs(root)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"describ"}, "did you mean describe?"},
		{[]string{"zzzzzz"}, "see 'rdbak --help'"},
		{[]string{"describe"}, "rdbak describe: accepts 1 arg(s), received 0; see 'rdbak describe --help'"},
		{[]string{"verify", "a", "b"}, "expected 1 argument(s), got 2: give the backup ID"},
	} {
		root.SetArgs(tt.args)
		root.SetOut(new(strings.Builder))
		root.SetErr(new(strings.Builder))
		err := root.Execute()
		if !isUsage(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v (usage error: %v), want a usage error with %q", tt.args, err, isUsage(err), tt.want)
		}
	}
	root.SetArgs([]string{"describe", "x"})
	if err := root.Execute(); err != nil {
		t.Errorf("describe x: %v", err)
	}
}

func TestCheckOutput(t *testing.T) {
	var format string
	cmd := &cobra.Command{Use: "list"}
	AddOutputFlag(cmd, &format, "wide")
	if f := cmd.Flags().Lookup("output"); f == nil || f.Shorthand != "o" || f.DefValue != "table" || f.Usage != "output format: table, wide, json, yaml" {
		t.Fatalf("-o/--output = %+v", f)
	}
	for _, ok := range []string{"table", "wide", "json", "yaml"} {
		if err := CheckOutput(cmd, ok); err != nil {
			t.Errorf("-o %s: %v", ok, err)
		}
	}
	err := CheckOutput(cmd, "xml")
	if !isUsage(err) || err.Error() != `--output "xml": use table, wide, json, yaml` {
		t.Errorf("-o xml: got %v, want a usage error naming the formats", err)
	}
	if err := CheckOutput(&cobra.Command{Use: "version"}, "xml"); err != nil {
		t.Errorf("a command without -o: %v", err)
	}
}

func TestConfirm(t *testing.T) {
	var out strings.Builder
	for _, tt := range []struct {
		name     string
		terminal bool
		typed    string
		usage    bool
		ok       bool
	}{
		{"the name confirms", true, "redis\n", false, true},
		{"the name without newline (EOF)", true, "  redis ", false, true},
		{"the full workload does not", true, "statefulset prod/redis\n", false, false},
		{"nothing typed", true, "", false, false},
		{"no terminal needs --yes", false, "redis\n", true, false},
	} {
		out.Reset()
		err := Prompt{In: strings.NewReader(tt.typed), Terminal: tt.terminal, Out: &out}.Confirm("statefulset prod/redis")
		if (err == nil) != tt.ok || isUsage(err) != tt.usage {
			t.Errorf("%s: got %v, want ok %v usage error %v", tt.name, err, tt.ok, tt.usage)
		}
		if tt.terminal && out.String() != `Type "redis" to replace its data: ` {
			t.Errorf("%s: prompt %q", tt.name, out.String())
		}
	}
}

func TestRetentionFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want *config.Retention
	}{
		{nil, nil},
		{[]string{"--keep-daily", "7"}, &config.Retention{KeepDaily: 7}},
		{[]string{"--keep-last", "0"}, &config.Retention{}}, // given, even as 0: the flags replace the file's policy
		{[]string{"--time-zone", "UTC", "--keep-within", "36h"}, &config.Retention{TimeZone: "UTC", KeepWithin: "36h"}},
	} {
		var keep config.Retention
		cmd := &cobra.Command{Use: "prune"}
		AddRetentionFlags(cmd, &keep)
		if err := cmd.ParseFlags(tt.args); err != nil {
			t.Fatal(err)
		}
		got := RetentionFlags(cmd, &keep)
		if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
			t.Errorf("%v: got %+v, want %+v", tt.args, got, tt.want)
		}
	}
}

func TestKubeFlagsGrouped(t *testing.T) {
	cmd := &cobra.Command{Use: "restore"}
	var k app.KubeFlags
	AddKubeFlags(cmd, &k, "restore into")
	if k.Flags == nil {
		t.Fatal("AddKubeFlags left KubeFlags.Flags nil")
	}
	if err := cmd.ParseFlags([]string{"--statefulset", "prod/redis", "-n", "prod"}); err != nil {
		t.Fatal(err)
	}
	if k.StatefulSet != "prod/redis" || !k.Set() {
		t.Errorf("--statefulset: got %+v", k)
	}
	for name, group := range map[string]string{"statefulset": GroupKubernetes, "redis-tls": GroupKubernetes, "namespace": GroupKubectl, "kubeconfig": GroupKubectl} {
		f := cmd.Flags().Lookup(name)
		if f == nil || groupOf(f) != group {
			t.Errorf("--%s: %+v, want in group %q", name, f, group)
		}
	}
	if u := cmd.Flags().Lookup("pod").Usage; !strings.HasPrefix(u, "restore into the Redis") {
		t.Errorf("--pod usage %q does not use the verb", u)
	}
}

func TestCompleteIDs(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := Completer{
		Backups: func(context.Context) ([]*storage.Manifest, error) {
			return []*storage.Manifest{
				{ID: "old", Target: "a", Created: now.Add(-50 * time.Hour)},
				{ID: "new", Target: "b", Created: now.Add(-90 * time.Minute)},
			}, nil
		},
		Now: func() time.Time { return now },
	}
	got, dir := c.ids(&cobra.Command{}, nil, "")
	want := []string{"latest\tthe newest backup", "new\tb, 1h ago", "old\ta, 2d ago"}
	if strings.Join(got, "|") != strings.Join(want, "|") || dir != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("got %q %v, want %q", got, dir, want)
	}
	if got, _ := c.ids(&cobra.Command{}, []string{"new"}, ""); got != nil {
		t.Errorf("a second argument completed to %q", got)
	}
	c.Backups = func(context.Context) ([]*storage.Manifest, error) { return nil, errors.New("no storage") }
	if _, dir := c.ids(&cobra.Command{}, nil, ""); dir != cobra.ShellCompDirectiveError {
		t.Errorf("a failed listing: directive %v, want error", dir)
	}
}
