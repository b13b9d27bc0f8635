//go:build e2e

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rdbak/rdbak/internal/testcluster"
)

// restoreRBAC binds deploy/base/restore too and plans an offline restore
// (rdbak restore --dry-run checks every permission the restore would use,
// changing nothing) in a Job as the shipped ServiceAccount: with the Role
// whole it succeeds; without each rule it fails naming what the rule
// grants.
func restoreRBAC(t *testing.T, home, target *testcluster.Namespace, image, cfg, api string) {
	dirs := []string{"examples/cronjob", "base/restore"}
	args := []string{"restore", "latest", "--config", "/etc/rdbak/rdbak.yaml", "--target", "redis", "--strategy", "offline", "--dry-run"}
	objs := home.Apply(t, kustomizeOverlay(t, home.Cluster, dirs, home.Name, target.Name, image, cfg, api))
	jobFromCronJob(t, home, "rdbak-redis", "plan", args...)
	code, log := firstJobPod(t, home, "plan")
	deleteJob(t, home, "plan")
	if code != 0 || !strings.Contains(log, "offline") {
		t.Fatalf("planning an offline restore with the shipped Roles: exit %d, want 0 and an offline plan; log:\n%s", code, log)
	}
	tn := target.Name
	says := map[string][]string{
		"statefulsets,deployments":             {"patch statefulsets redis-master in namespace " + tn},
		"statefulsets/scale,deployments/scale": {"update statefulsets/scale redis-master in namespace " + tn},
		"pods":                                 {"create pods in namespace " + tn, "delete pods in namespace " + tn},
		// Only a Deployment's restore reads ReplicaSets (its pod's owner).
		"replicasets": nil,
	}
	for i, r := range roleRules(t, objs, "rdbak-restore") {
		res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
		key := strings.Join(res, ",")
		want, ok := says[key]
		if !ok {
			t.Errorf("rule %d of the shipped restore Role (%s) has no expectation here: add one", i, key)
			continue
		}
		if want == nil {
			t.Logf("rule %d (%s) is not exercised: the target is a StatefulSet", i, key)
			continue
		}
		t.Run("without "+strings.ReplaceAll(key, "/", " "), func(t *testing.T) {
			drop := fmt.Sprintf(`- target: {kind: Role, name: rdbak-restore}
  patch: '[{"op": "remove", "path": "/rules/%d"}]'
`, i)
			home.Apply(t, kustomizeOverlay(t, home.Cluster, dirs, home.Name, target.Name, image, cfg, api, drop))
			job := "plan-without-" + strconv.Itoa(i)
			jobFromCronJob(t, home, "rdbak-redis", job, args...)
			code, log := firstJobPod(t, home, job)
			deleteJob(t, home, job)
			t.Logf("rdbak in the Job's pod exited %d:\n%s", code, log)
			if code != 1 {
				t.Errorf("rdbak exited %d, want 1", code)
			}
			for _, s := range append([]string{"missing Kubernetes permissions"}, want...) {
				if !strings.Contains(log, s) {
					t.Errorf("the log does not say %q", s)
				}
			}
		})
	}
}
