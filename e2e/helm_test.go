//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
)

// helmVersion is the Helm the tests build from the Go module proxy when
// $RDBAK_HELM_BIN is unset and no helm is on PATH (Debian has no package).
const helmVersion = "v3.17.3"

const chart = "../deploy/helm/rdbak"

// exampleRecipient is the age public key of deploy/examples/rdbak.yaml.
const exampleRecipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

// helmBin returns a helm binary: $RDBAK_HELM_BIN, helm on PATH, or one
// built once into $RDBAK_CACHE/helm/<version> with go install.
func helmBin(t *testing.T, c *testcluster.Cluster) string {
	t.Helper()
	if p := os.Getenv("RDBAK_HELM_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	cache := c.Getenv("RDBAK_CACHE")
	if cache == "" {
		testenv.Missing(t, "helm", "no $RDBAK_HELM_BIN, no helm on PATH and no RDBAK_CACHE to build it into")
	}
	dir := filepath.Join(cache, "helm", helmVersion)
	bin := filepath.Join(dir, "helm")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("building helm %s into %s (once; a few minutes)", helmVersion, dir)
	cmd := exec.Command("go", "install", "helm.sh/helm/v3/cmd/helm@"+helmVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Missing(t, "helm", "go install helm "+helmVersion+": "+err.Error()+"\n"+string(out))
	}
	return bin
}

// helm runs the helm binary and returns its stdout.
func helm(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

// decodeAll splits a rendered multi-document manifest into objects.
func decodeAll(t *testing.T, rendered string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := yamlutil.NewYAMLOrJSONDecoder(strings.NewReader(rendered), 4096)
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("decode document %d: %v", len(objs)+1, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s among the rendered objects", kind, name)
	return nil
}

// TestHelmChart lints the chart and renders it in both modes: every object
// passes a server-side dry-run, its config validates, and its RBAC rules
// are the kustomize base's, so the two install paths grant the same.
func TestHelmChart(t *testing.T) {
	home := testcluster.New(t)
	other := home.NewNamespace(t)
	bin := helmBin(t, home.Cluster)
	kubectl := kubectlBin(t, home.Cluster)
	helm(t, bin, "lint", "--strict", chart)
	helm(t, bin, "lint", "--strict", chart, "--set", "mode=daemon")

	kust := func(dir string) []*unstructured.Unstructured {
		out, err := exec.Command(kubectl, "kustomize", filepath.Join("..", "deploy", dir)).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v", dir, err)
		}
		return decodeAll(t, string(out))
	}
	rules := func(o *unstructured.Unstructured) []any {
		r, _, _ := unstructured.NestedSlice(o.Object, "rules")
		return r
	}
	for _, mode := range []string{"cronjob", "daemon"} {
		t.Run(mode, func(t *testing.T) {
			objs := decodeAll(t, helm(t, bin, "template", "rdbak", chart, "--namespace", "rdbak", "--set", "mode="+mode, "--set", "daemon.executor=job",
				"--set", "restoreRBAC=true", "--set-string", "storageCredentials.AWS_ACCESS_KEY_ID=x",
				// deploy/base/restore grants reading the identity Secret of
				// encryption.identitySecret; the chart does when one is named.
				// rdbak refuses an encryption block without recipients.
				"--set", "defaults.encryption.identitySecret.name=rdbak-identity", "--set", "defaults.encryption.identitySecret.key=identity",
				"--set", "defaults.encryption.recipients[0]="+exampleRecipient))
			for _, o := range objs {
				dryRun(t, home, o.DeepCopy(), map[string]string{"rdbak": home.Name}, other.Name)
			}
			cm := find(t, objs, "ConfigMap", "rdbak-config")
			cfg, _, _ := unstructured.NestedString(cm.Object, "data", "rdbak.yaml")
			p := filepath.Join(t.TempDir(), "rdbak.yaml")
			if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(rdbakBin, "config", "validate", p).CombinedOutput(); err != nil {
				t.Errorf("the chart's rdbak.yaml does not validate: %v\n%s\n%s", err, out, cfg)
			}
			base := kust("examples/" + mode)
			if got, want := rules(find(t, objs, "Role", "rdbak-backup")), rules(find(t, base, "Role", "rdbak-backup")); !reflect.DeepEqual(got, want) {
				t.Errorf("Role rdbak-backup: the chart grants %v, deploy/ %v", got, want)
			}
			if got, want := rules(find(t, objs, "Role", "rdbak-restore")), rules(find(t, kust("base/restore"), "Role", "rdbak-restore")); !reflect.DeepEqual(got, want) {
				t.Errorf("Role rdbak-restore: the chart grants %v, deploy/ %v", got, want)
			}
			if got, want := rules(find(t, objs, "Role", "rdbak-drill")), rules(find(t, kust("base/drill"), "Role", "rdbak-drill")); !reflect.DeepEqual(got, want) {
				t.Errorf("Role rdbak-drill: the chart grants %v, deploy/ %v", got, want)
			}
			switch mode {
			case "daemon":
				if got, want := rules(find(t, objs, "Role", "rdbak-leader")), rules(find(t, base, "Role", "rdbak-leader")); !reflect.DeepEqual(got, want) {
					t.Errorf("Role rdbak-leader: the chart grants %v, deploy/ %v", got, want)
				}
				if got, want := rules(find(t, objs, "Role", "rdbak-jobs")), rules(find(t, base, "Role", "rdbak-jobs")); !reflect.DeepEqual(got, want) {
					t.Errorf("Role rdbak-jobs: the chart grants %v, deploy/ %v", got, want)
				}
			case "cronjob":
				var got, want batchv1.CronJob
				convert(t, find(t, objs, "CronJob", "rdbak-redis"), &got)
				convert(t, find(t, base, "CronJob", "rdbak-redis"), &want)
				g, w := got.Spec.JobTemplate.Spec, want.Spec.JobTemplate.Spec
				if !reflect.DeepEqual(g.PodFailurePolicy, w.PodFailurePolicy) || *g.BackoffLimit != *w.BackoffLimit ||
					*g.ActiveDeadlineSeconds != *w.ActiveDeadlineSeconds || got.Spec.ConcurrencyPolicy != want.Spec.ConcurrencyPolicy {
					t.Errorf("the chart's Job policy differs from deploy/'s:\n%+v\n%+v", g, w)
				}
				gp, wp := g.Template.Spec, w.Template.Spec
				if !reflect.DeepEqual(gp.SecurityContext, wp.SecurityContext) ||
					!reflect.DeepEqual(gp.Containers[0].SecurityContext, wp.Containers[0].SecurityContext) ||
					!reflect.DeepEqual(gp.Containers[0].Args, wp.Containers[0].Args) ||
					!reflect.DeepEqual(gp.Containers[0].VolumeMounts, wp.Containers[0].VolumeMounts) {
					t.Errorf("the chart's pod differs from deploy/'s:\n%+v\n%+v", gp, wp)
				}
			}
		})
	}
}

// TestHelmChartSecrets renders targets in two namespaces: each namespace
// gets one Role, whose secrets rule names exactly the Secrets its targets
// name (a password Secret shared by two targets once, and a TLS CA), and a
// namespace whose targets name none gets no secrets rule at all. The
// identity Secrets (encryption.identitySecret, a target's own or the
// defaults') go to the restore Role only, never to the backup Role.
func TestHelmChartSecrets(t *testing.T) {
	bin := helmBin(t, testcluster.Connect(t))
	vf := filepath.Join(t.TempDir(), "values.yaml")
	values := `restoreRBAC: true
defaults:
  encryption: {recipients: [` + exampleRecipient + `], identitySecret: {name: id-default, key: identity}}
targets:
- {name: a, kubernetes: {namespace: ns-a, pod: p, passwordSecret: {name: pw, key: k}, tls: {caSecret: {name: ca, key: ca.crt}}}}
- {name: b, kubernetes: {namespace: ns-a, pod: q, passwordSecret: {name: pw, key: k}}, encryption: {identitySecret: {name: id-b, key: identity}}}
- {name: c, kubernetes: {namespace: ns-b, pod: r}}
`
	if err := os.WriteFile(vf, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, helm(t, bin, "template", "rdbak", chart, "--namespace", "rdbak", "--values", vf))
	secrets := map[string][]string{}
	identities := map[string][]string{}
	roles := 0
	for _, o := range objs {
		if o.GetKind() == "Role" && o.GetName() == "rdbak-restore" {
			rs, _, _ := unstructured.NestedSlice(o.Object, "rules")
			for _, r := range rs {
				if res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources"); reflect.DeepEqual(res, []string{"secrets"}) {
					identities[o.GetNamespace()], _, _ = unstructured.NestedStringSlice(r.(map[string]any), "resourceNames")
				}
			}
		}
		if o.GetKind() != "Role" || o.GetName() != "rdbak-backup" {
			continue
		}
		roles++
		rs, _, _ := unstructured.NestedSlice(o.Object, "rules")
		for _, r := range rs {
			res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
			if reflect.DeepEqual(res, []string{"secrets"}) {
				names, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resourceNames")
				if len(names) == 0 {
					t.Errorf("Role in %s reads every Secret", o.GetNamespace())
				}
				secrets[o.GetNamespace()] = names
			}
		}
	}
	if want := map[string][]string{"ns-a": {"pw", "ca"}}; roles != 2 || !reflect.DeepEqual(secrets, want) {
		t.Errorf("%d Roles with secrets rules %v, want 2 with %v", roles, secrets, want)
	}
	if want := map[string][]string{"ns-a": {"id-default", "id-b"}, "ns-b": {"id-default"}}; !reflect.DeepEqual(identities, want) {
		t.Errorf("restore Roles read the Secrets %v, want %v", identities, want)
	}
}

// convert turns an unstructured object into a typed one.
func convert(t *testing.T, o *unstructured.Unstructured, v any) {
	t.Helper()
	b, err := json.Marshal(o.Object)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
}

// TestHelmCronJob renders the chart with the test's values (helm template:
// the same objects helm install creates), applies them, runs a Job from
// the chart's CronJob as the chart's ServiceAccount and checks the backup
// from outside.
func TestHelmCronJob(t *testing.T) {
	image := restoreImage(t)
	target := testcluster.New(t)
	home := target.NewNamespace(t)
	bin := helmBin(t, home.Cluster)
	store := startNodeMinIO(t, target.Cluster)
	src := deployRedis(t, target)
	want := src.Digest(t)

	repo, tag, _ := strings.Cut(image, ":")
	values := map[string]any{
		"mode":               "cronjob",
		"image":              map[string]any{"repository": repo, "tag": tag, "pullPolicy": "IfNotPresent"},
		"storage":            store.url,
		"storageCredentials": map[string]any{"AWS_ACCESS_KEY_ID": nodeMinIOUser, "AWS_SECRET_ACCESS_KEY": nodeMinIOSecret},
		"targets": []any{map[string]any{"name": "redis", "kubernetes": map[string]any{
			"namespace": target.Name, "statefulset": "redis-master", "access": "pod-ip",
			"passwordSecret": map[string]any{"name": "redis", "key": "REDIS_PASSWORD"},
		}}},
	}
	b, err := json.Marshal(values) // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	vf := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(vf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, helm(t, bin, "template", "rdbak", chart, "--namespace", home.Name, "--values", vf))
	ip := nodeIP(t, home.Cluster)
	for _, o := range objs {
		if o.GetKind() == "CronJob" {
			// The testbed has no kube-proxy: see apiServerEnv.
			path := []string{"spec", "jobTemplate", "spec", "template", "spec", "containers"}
			cs, _, _ := unstructured.NestedSlice(o.Object, path...)
			c := cs[0].(map[string]any)
			c["env"] = []any{
				map[string]any{"name": "KUBERNETES_SERVICE_HOST", "value": ip},
				map[string]any{"name": "KUBERNETES_SERVICE_PORT", "value": "6443"},
			}
			if err := unstructured.SetNestedSlice(o.Object, cs, path...); err != nil {
				t.Fatal(err)
			}
		}
		j, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		home.Apply(t, string(j))
	}

	jobFromCronJob(t, home, "rdbak-redis", "helm")
	if got := waitJob(t, home, "helm"); got != batchv1.JobComplete {
		_, log := firstJobPod(t, home, "helm")
		t.Fatalf("job from the chart's CronJob: %s, want Complete; log:\n%s", got, log)
	}
	ms := store.backups(t, home)
	if len(ms) != 1 || ms[0].Target != "redis" {
		t.Fatalf("MinIO holds %+v, want one backup of target redis", ms)
	}
	if got := restoredDigestOn(t, home, src.Server, store.url, ms[0].ID, store.env...); got != want {
		t.Fatalf("restored digest %s, the pod's %s", got, want)
	}
}
