package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
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
	most := &cobra.Command{Use: "drill", Args: MaxArgs(1, "give the backup ID or latest"), RunE: func(*cobra.Command, []string) error { return nil }}
	root.AddCommand(sub, exact, most)
	UsageArgs(root)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"describ"}, "did you mean describe?"},
		{[]string{"zzzzzz"}, "see 'rdbak --help'"},
		{[]string{"describe"}, "rdbak describe: accepts 1 arg(s), received 0; see 'rdbak describe --help'"},
		{[]string{"verify", "a", "b"}, "expected 1 argument(s), got 2: give the backup ID"},
		{[]string{"drill", "a", "b"}, "expected at most 1 argument, got 2: give the backup ID or latest"},
	} {
		root.SetArgs(tt.args)
		root.SetOut(new(strings.Builder))
		root.SetErr(new(strings.Builder))
		err := root.Execute()
		if !isUsage(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v (usage error: %v), want a usage error with %q", tt.args, err, isUsage(err), tt.want)
		}
	}
	for _, ok := range [][]string{{"describe", "x"}, {"drill"}, {"drill", "latest"}} {
		root.SetArgs(ok)
		if err := root.Execute(); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
}

func TestTimeFlag(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	if got, err := TimeFlag("--since", "", now); err != nil || !got.IsZero() {
		t.Errorf("empty: %v, %v; want the zero time", got, err)
	}
	if got, err := TimeFlag("--since", "2h", now); err != nil || !got.Equal(now.Add(-2*time.Hour)) {
		t.Errorf("2h: %v, %v", got, err)
	}
	if got, err := TimeFlag("--as-of", "2026-11-22T03:00:00Z", now); err != nil || !got.Equal(time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("RFC 3339: %v, %v", got, err)
	}
	if _, err := TimeFlag("--as-of", "yesterday-ish", now); !isUsage(err) || !strings.HasPrefix(err.Error(), "--as-of: ") {
		t.Errorf("a bad time: %v, want a usage error naming --as-of", err)
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
	// A negative count or a non-positive window would be no rule at all,
	// and prune would drop every backup but the newest.
	for _, args := range [][]string{
		{"--keep-last", "-1"}, {"--keep-daily", "-5"}, {"--min-keep", "-2"}, {"--keep-hourly", "x"},
		{"--keep-within", "-5h"}, {"--keep-within", "0s"}, {"--keep-within", "soon"},
	} {
		var keep config.Retention
		cmd := &cobra.Command{Use: "prune"}
		AddRetentionFlags(cmd, &keep)
		if err := cmd.ParseFlags(args); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: error %v, want one naming %s", args, err, args[0])
		}
		if keep != (config.Retention{}) {
			t.Errorf("%v: the policy became %+v", args, keep)
		}
	}
}

// TestCountVar: --last -1 listed every backup and --concurrency -1 took
// the config's, silently; a negative count is refused, naming the flag.
func TestCountVar(t *testing.T) {
	for _, tt := range []struct {
		arg     string
		want    int
		wantErr bool
	}{{"3", 3, false}, {"0", 0, false}, {"-1", 0, true}, {"two", 0, true}} {
		n := 0
		f := pflag.NewFlagSet("list", pflag.ContinueOnError)
		CountVar(f, &n, "last", "only the newest N backups")
		err := f.Parse([]string{"--last", tt.arg})
		if (err != nil) != tt.wantErr || (err != nil && !strings.Contains(err.Error(), "--last")) || n != tt.want {
			t.Errorf("--last %s: %d, %v; want %d (error: %v)", tt.arg, n, err, tt.want, tt.wantErr)
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

// TestComplete: backup IDs newest first after latest, each with its
// target and age; the targets of storage; a storage that cannot be read
// is an error directive, not a candidate.
func TestComplete(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	repo, err := storage.Open(t.Context(), "file://"+dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	older, newer := storage.NewID(now.Add(-50*time.Hour)), storage.NewID(now.Add(-90*time.Minute))
	testenv.PutBackup(t, repo, "a", older, now.Add(-50*time.Hour))
	testenv.PutBackup(t, repo, "b", newer, now.Add(-90*time.Minute))
	req := app.Request{Storage: "file://" + dir}
	c := Completer{Request: func() app.Request { return req }, Now: func() time.Time { return now }}

	got, dir2 := c.ids(&cobra.Command{}, nil, "")
	want := []string{"latest\tthe newest backup", newer + "\tb, 1h ago", older + "\ta, 2d ago"}
	if strings.Join(got, "|") != strings.Join(want, "|") || dir2 != cobra.ShellCompDirectiveNoFileComp {
		t.Errorf("ids: got %q %v, want %q", got, dir2, want)
	}
	if got, _ := c.ids(&cobra.Command{}, []string{newer}, ""); got != nil {
		t.Errorf("a second argument completed to %q", got)
	}
	if got, _ := c.targets(&cobra.Command{}, nil, ""); strings.Join(got, ",") != "a,b" {
		t.Errorf("targets: %q, want a and b", got)
	}
	req.Storage = "nosuch://x"
	if _, d := c.ids(&cobra.Command{}, nil, ""); d != cobra.ShellCompDirectiveError {
		t.Errorf("unreadable storage: directive %v, want an error", d)
	}
	if _, d := c.targets(&cobra.Command{}, nil, ""); d != cobra.ShellCompDirectiveError {
		t.Errorf("unreadable storage: directive %v, want an error", d)
	}
}
