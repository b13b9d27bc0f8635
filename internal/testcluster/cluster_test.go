package testcluster

import (
	"maps"
	"regexp"
	"strings"
	"testing"
)

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestParseEnv(t *testing.T) {
	in := `# Written by hack/testbed/up.
export RDBAK_TESTBED_STATE='/root/.cache/rdbak/testbed-state'
export KUBECONFIG='/root/.cache/rdbak/testbed-state/admin.kubeconfig'
export RDBAK_TESTBED_REDIS_IMAGE='rdbak.local/redis:7.0.15'
export PLAIN=value
export PATH="/root/.cache/rdbak/testbed/bin/v1.33.13:$PATH"
export EMPTY=''
FOO=bar
export SPACED=a b
`
	got, err := parseEnv(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"RDBAK_TESTBED_STATE":       "/root/.cache/rdbak/testbed-state",
		"KUBECONFIG":                "/root/.cache/rdbak/testbed-state/admin.kubeconfig",
		"RDBAK_TESTBED_REDIS_IMAGE": "rdbak.local/redis:7.0.15",
		"PLAIN":                     "value",
		"EMPTY":                     "",
	}
	if !maps.Equal(got, want) {
		t.Errorf("parseEnv:\n got %v\nwant %v", got, want)
	}
}

func TestNamespaceName(t *testing.T) {
	for _, test := range []string{
		"TestSmoke",
		"TestBackup/sub_test#01",
		"TestAVeryLongNameThatGoesOnAndOnAndOnBeyondTheSixtyThreeCharacterLimitOfLabels/and/more",
	} {
		got := namespaceName(test)
		if len(got) > 63 || !dnsLabel.MatchString(got) {
			t.Errorf("namespaceName(%q) = %q, not a DNS label", test, got)
		}
		if again := namespaceName(test); again == got {
			t.Errorf("namespaceName(%q) returned %q twice", test, got)
		}
	}
}

func TestServerImage(t *testing.T) {
	const list = "redis-7.0.15=rdbak.local/redis:7.0.15,redis-6.2.16=rdbak.local/redis:6.2.16,valkey-8.0.1=rdbak.local/valkey:8.0.1"
	for _, test := range []struct {
		list, name, want, err string
	}{
		{list: list, name: "redis-6.2.16", want: "rdbak.local/redis:6.2.16"},
		{list: list, name: "valkey-8.0.1", want: "rdbak.local/valkey:8.0.1"},
		{list: list, name: "redis-7.4.1", err: "no image of redis-7.4.1 (RDBAK_TESTBED_REDIS_IMAGES lists redis-7.0.15, redis-6.2.16, valkey-8.0.1)"},
		{list: "", name: "redis-6.2.16", err: "RDBAK_TESTBED_REDIS_IMAGES is not set"},
		{list: "redis-6.2.16", name: "redis-6.2.16", err: `entry "redis-6.2.16" is not name=image`},
	} {
		got, err := serverImage(test.list, test.name)
		switch {
		case test.err == "" && (err != nil || got != test.want):
			t.Errorf("serverImage(%q, %q) = %q, %v; want %q", test.list, test.name, got, err, test.want)
		case test.err != "" && (err == nil || !strings.Contains(err.Error(), test.err)):
			t.Errorf("serverImage(%q, %q) = %q, %v; want an error saying %q", test.list, test.name, got, err, test.err)
		}
	}
}
