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
