// Package monitoring holds the tests of deploy/monitoring: the alerting
// rules pass `promtool check rules` and their unit tests (rules_test.yaml),
// the dashboard is well-formed, and the Helm chart renders both unchanged.
// internal/daemon's TestMonitoringMetricsExist checks that every metric
// they use is one the daemon exposes.
package monitoring

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/rdbak/rdbak/internal/testenv"
)

// ruleFile returns prometheusrule.yaml's spec as a plain Prometheus rules
// file in dir.
func ruleFile(t *testing.T, dir string) string {
	t.Helper()
	var pr struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       map[string]any `json:"spec"`
	}
	b, err := os.ReadFile("prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, &pr); err != nil || pr.Kind != "PrometheusRule" {
		t.Fatalf("prometheusrule.yaml: kind %q, %v", pr.Kind, err)
	}
	out, err := yaml.Marshal(pr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// TestRules runs promtool check rules and promtool test rules.
func TestRules(t *testing.T) {
	promtool := testenv.Promtool(t)
	dir := t.TempDir()
	ruleFile(t, dir)
	tests, err := os.ReadFile("rules_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules_test.yaml"), tests, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, dir, promtool, "check", "rules", "rules.yaml")
	out := run(t, dir, promtool, "test", "rules", "rules_test.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
	// Every alert has a unit test.
	b, _ := os.ReadFile(filepath.Join(dir, "rules.yaml"))
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") {
				t.Errorf("alert %s has no test in rules_test.yaml", r.Alert)
			}
		}
	}
}

// TestDashboard checks the dashboard's shape: every panel queries the
// datasource variable and has a query.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID         int            `json:"id"`
			Title      string         `json:"title"`
			Datasource map[string]any `json:"datasource"`
			Targets    []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	if d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard has uid %q and %d panels", d.UID, len(d.Panels))
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d repeats", p.ID)
		}
		ids[p.ID] = true
		if p.Datasource["uid"] != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %v, %d queries", p.Title, p.Datasource, len(p.Targets))
		}
		for _, q := range p.Targets {
			if !strings.Contains(q.Expr, "rdbak_") {
				t.Errorf("panel %q queries %q, no rdbak metric", p.Title, q.Expr)
			}
		}
	}
}

// TestHelmRendersMonitoring: the chart renders the same rule and dashboard
// with monitoring.enabled, and neither without it.
func TestHelmRendersMonitoring(t *testing.T) {
	helm := testenv.Helm(t)
	chart := filepath.Join("..", "helm", "rdbak")
	for _, f := range []string{"prometheusrule.yaml", "dashboard.json"} {
		a, _ := os.ReadFile(f)
		b, err := os.ReadFile(filepath.Join(chart, "files", f))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s/files/%s differs from deploy/monitoring/%s (%v): copy it", chart, f, f, err)
		}
	}
	run(t, ".", helm, "lint", "--strict", chart, "--set", "monitoring.enabled=true", "--set", "mode=daemon")
	on := run(t, ".", helm, "template", "r", chart, "--set", "monitoring.enabled=true", "--set", "mode=daemon",
		"--set", "monitoring.ruleLabels.release=prom")
	var rule, dash, podMonitor map[string]any
	for _, doc := range strings.Split(on, "\n---\n") {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("rendered document: %v\n%s", err, doc)
		}
		switch o["kind"] {
		case "PrometheusRule":
			rule = o
		case "PodMonitor":
			podMonitor = o
		case "ConfigMap":
			if o["metadata"].(map[string]any)["name"] == "rdbak-dashboard" {
				dash = o
			}
		}
	}
	if rule == nil || dash == nil || podMonitor == nil {
		t.Fatalf("monitoring.enabled renders rule %v, dashboard %v, pod monitor %v", rule != nil, dash != nil, podMonitor != nil)
	}
	var want map[string]any
	b, _ := os.ReadFile("prometheusrule.yaml")
	if err := yaml.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rule["spec"], want["spec"]) {
		t.Errorf("the chart's PrometheusRule spec differs from deploy/monitoring's")
	}
	if rule["metadata"].(map[string]any)["labels"].(map[string]any)["release"] != "prom" {
		t.Errorf("monitoring.ruleLabels not applied: %v", rule["metadata"])
	}
	board, _ := os.ReadFile("dashboard.json")
	if got := dash["data"].(map[string]any)["rdbak.json"]; strings.TrimSpace(got.(string)) != strings.TrimSpace(string(board)) {
		t.Errorf("the chart's dashboard differs from dashboard.json")
	}
	off := run(t, ".", helm, "template", "r", chart, "--set", "mode=daemon")
	if strings.Contains(off, "PrometheusRule") || strings.Contains(off, "rdbak-dashboard") {
		t.Errorf("monitoring is rendered without monitoring.enabled")
	}
}
