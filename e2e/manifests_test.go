//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rdbak/rdbak/internal/testcluster"
)

// k8sKind tells a Kubernetes manifest (or kustomization) from an rdbak
// config, which has no top-level kind.
var k8sKind = regexp.MustCompile(`(?m)^kind:`)

// promtoolTest tells promtool's rule unit tests (deploy/monitoring), which
// deploy/monitoring's own test runs, from rdbak configs.
var promtoolTest = regexp.MustCompile(`(?m)^rule_files:`)

// deployFiles returns the directories under deploy/ that hold a
// kustomization, the YAML manifests outside them, and the rdbak configs;
// deploy/helm is TestHelmChart's.
func deployFiles(t *testing.T) (kustomizations, manifests, configs []string) {
	t.Helper()
	root := filepath.Join("..", "deploy")
	inKustomization := map[string]bool{}
	var yamls []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == filepath.Join(root, "helm") {
				return filepath.SkipDir // templates, not manifests: TestHelmChart renders them
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml":
		default:
			return nil
		}
		if filepath.Base(p) == "kustomization.yaml" {
			kustomizations = append(kustomizations, filepath.Dir(p))
			inKustomization[filepath.Dir(p)] = true
			return nil
		}
		yamls = append(yamls, p)
		return nil
	})
	if err != nil {
		t.Fatalf("walk deploy/: %v", err)
	}
	for _, p := range yamls {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case promtoolTest.Match(b):
		case !k8sKind.Match(b):
			configs = append(configs, p)
		case !inKustomization[filepath.Dir(p)]:
			manifests = append(manifests, p)
		}
	}
	if len(kustomizations) == 0 || len(configs) == 0 {
		t.Fatalf("found %d kustomizations and %d configs under deploy/: the walk is broken", len(kustomizations), len(configs))
	}
	return kustomizations, manifests, configs
}

// TestDeployConfigsValidate runs rdbak config validate on every rdbak
// config under deploy/: the examples, and the one the base ships in its
// ConfigMap.
func TestDeployConfigsValidate(t *testing.T) {
	_, _, configs := deployFiles(t)
	for _, c := range configs {
		t.Run(strings.TrimPrefix(c, "../"), func(t *testing.T) {
			out, err := exec.Command(rdbakBin, "config", "validate", c).CombinedOutput()
			if err != nil {
				t.Fatalf("rdbak config validate %s: %v\n%s", c, err, out)
			}
			if strings.Contains(string(out), "warning") {
				t.Errorf("rdbak config validate %s warns:\n%s", c, out)
			}
		})
	}
}

// TestDeployManifestsDryRun renders every kustomization under deploy/ and
// server-side applies each object with dryRun=All, as does every manifest
// outside a kustomization: the API server checks the schema, defaulting and
// admission without storing anything. The namespaces the manifests name
// (rdbak, and the targets' redis) are mapped to the test's, because a
// namespaced object cannot be validated in a namespace that does not
// exist; Namespace objects themselves are dry-run as they are.
func TestDeployManifestsDryRun(t *testing.T) {
	kustomizations, manifests, _ := deployFiles(t)
	home := testcluster.New(t)
	other := home.NewNamespace(t)
	remap := map[string]string{"rdbak": home.Name}
	kubectl := kubectlBin(t, home.Cluster)
	check := func(t *testing.T, rendered string) {
		objs := decodeAll(t, rendered)
		for _, o := range objs {
			if o.GroupVersionKind().Group == "monitoring.coreos.com" {
				// The Prometheus Operator's kinds: the testbed has no
				// operator, and promtool checks and unit-tests the rules
				// themselves (deploy/monitoring's test).
				continue
			}
			dryRun(t, home, o, remap, other.Name)
		}
		if len(objs) == 0 {
			t.Error("nothing to apply")
		}
	}
	sort.Strings(kustomizations)
	for _, k := range kustomizations {
		t.Run(strings.TrimPrefix(k, "../"), func(t *testing.T) {
			out, err := exec.Command(kubectl, "kustomize", k).Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("kubectl kustomize %s: %v\n%s", k, err, stderr)
			}
			check(t, string(out))
		})
	}
	for _, m := range manifests {
		t.Run(strings.TrimPrefix(m, "../"), func(t *testing.T) {
			b, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			check(t, string(b))
		})
	}
}

// dryRun server-side applies obj with dryRun=All. rdbak's namespace maps
// through remap, any other namespace (a target's) to other.
func dryRun(t *testing.T, ns *testcluster.Namespace, obj *unstructured.Unstructured, remap map[string]string, other string) {
	t.Helper()
	mapNS := func(n string) string {
		if m, ok := remap[n]; ok {
			return m
		}
		return other
	}
	gvk := obj.GroupVersionKind()
	m, err := ns.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Errorf("%s %s: %v", gvk.Kind, obj.GetName(), err)
		return
	}
	ri := ns.Dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			t.Errorf("%s %s has no namespace: kubectl apply -k would put it wherever the kubeconfig points", gvk.Kind, obj.GetName())
			return
		}
		obj.SetNamespace(mapNS(obj.GetNamespace()))
		if subjects, ok, _ := unstructured.NestedSlice(obj.Object, "subjects"); ok {
			for _, s := range subjects {
				if sm, ok := s.(map[string]any); ok && sm["namespace"] != nil {
					sm["namespace"] = mapNS(sm["namespace"].(string))
				}
			}
			_ = unstructured.SetNestedSlice(obj.Object, subjects, "subjects")
		}
		_, err = ri.Namespace(obj.GetNamespace()).Apply(t.Context(), obj.GetName(), obj,
			metav1.ApplyOptions{FieldManager: testcluster.FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
	} else {
		_, err = ri.Apply(t.Context(), obj.GetName(), obj,
			metav1.ApplyOptions{FieldManager: testcluster.FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
	}
	if err != nil {
		t.Errorf("server-side dry-run of %s %s/%s: %v", gvk, obj.GetNamespace(), obj.GetName(), err)
	}
}
