//go:build e2e

package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rdbak/rdbak/internal/testcluster"
)

// restoreRBAC binds deploy/base/restore too and plans offline restores
// (rdbak restore --dry-run checks every permission the restore would use,
// changing nothing) in Jobs as the shipped ServiceAccount: with the Roles
// whole they succeed; without each rule the restore that needs it fails
// naming what the rule grants. The StatefulSet is the one TestDeployCronJob
// backed up; an exchange-redis Deployment joins it, because only a
// Deployment's restore reads ReplicaSets (its pod's owner), and takes the
// same backup (--from-target). A third target, enc, has its backups
// encrypted: only its restore reads the identity Secret. It runs the backup's Redis 7.4, not its
// usual 6.2, which the version pre-flight rightly refuses an RDB 12.
func restoreRBAC(t *testing.T, home, target *testcluster.Namespace, image, cfg, api string) {
	target.LocalPV(t, "exchange-redis-data", "1Gi")
	m, _ := manifestOn(target, t, exchangeRedis, bitnamiServer)
	target.Apply(t, m)
	target.WaitDeployment(t, "exchange-redis")
	cfg += fmt.Sprintf(`  - name: exchange
    kubernetes: {namespace: %s, deployment: exchange-redis, access: pod-ip}
`, target.Name)
	// An encrypted target: planning a restore of its backup reads the
	// identity Secret, which only the restore Role grants.
	id, _ := newIdentity(t, "key.txt")
	if _, err := target.Clientset.CoreV1().Secrets(target.Name).Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: identitySecretName},
		StringData: map[string]string{"identity": id.String()},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg += fmt.Sprintf(`  - name: enc
    encryption: {recipients: [%s], identitySecret: {name: %s, key: identity}}
    kubernetes: {namespace: %s, statefulset: redis-master, passwordSecret: {name: redis, key: REDIS_PASSWORD}, access: pod-ip}
`, id.Recipient(), identitySecretName, target.Name)
	plan := func(tgt string) []string {
		return []string{"restore", "latest", "--config", "/etc/rdbak/rdbak.yaml", "--target", tgt, "--from-target", "redis", "--strategy", "offline", "--dry-run"}
	}
	statefulSet, deployment := plan("redis"), plan("exchange")
	encrypted := []string{"restore", "latest", "--config", "/etc/rdbak/rdbak.yaml", "--target", "enc", "--strategy", "offline", "--dry-run"}
	dirs := []string{"examples/cronjob", "base/restore"}
	objs := home.Apply(t, kustomizeOverlay(t, home.Cluster, dirs, home.Name, target.Name, image, cfg, api))
	jobFromCronJob(t, home, "rdbak-redis", "backup-enc", "now", "--config", "/etc/rdbak/rdbak.yaml", "--target", "enc")
	if got := waitJob(t, home, "backup-enc"); got != batchv1.JobComplete {
		_, log := firstJobPod(t, home, "backup-enc")
		t.Fatalf("encrypted backup in a Job: %s, want Complete; log:\n%s", got, log)
	}
	for i, args := range [][]string{statefulSet, deployment, encrypted} {
		job := "plan-" + strconv.Itoa(i)
		jobFromCronJob(t, home, "rdbak-redis", job, args...)
		code, log := firstJobPod(t, home, job)
		deleteJob(t, home, job)
		if code != 0 || !strings.Contains(log, "offline") {
			t.Fatalf("rdbak %s with the shipped Roles: exit %d, want 0 and an offline plan; log:\n%s", strings.Join(args, " "), code, log)
		}
	}
	tn := target.Name
	type need struct {
		args []string
		says []string
	}
	needs := map[string]need{
		"statefulsets,deployments": {statefulSet, []string{"missing Kubernetes permissions",
			"patch statefulsets redis-master in namespace " + tn}},
		"statefulsets/scale,deployments/scale": {statefulSet, []string{"missing Kubernetes permissions",
			"update statefulsets/scale redis-master in namespace " + tn}},
		"pods": {statefulSet, []string{"missing Kubernetes permissions",
			"create pods in namespace " + tn, "delete pods in namespace " + tn}},
		// Checked when the pod's owner turns out to be a ReplicaSet.
		"replicasets": {deployment, []string{"missing Kubernetes permissions", "get replicasets"}},
		// encryption.identitySecret, checked for an encrypted backup.
		"secrets": {encrypted, []string{"missing Kubernetes permissions",
			"get secrets " + identitySecretName + " in namespace " + tn}},
	}
	for i, r := range roleRules(t, objs, "rdbak-restore") {
		res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
		key := strings.Join(res, ",")
		n, ok := needs[key]
		if !ok {
			t.Errorf("rule %d of the shipped restore Role (%s) has no expectation here: add one", i, key)
			continue
		}
		t.Run("without "+strings.ReplaceAll(key, "/", " "), func(t *testing.T) {
			drop := fmt.Sprintf(`- target: {kind: Role, name: rdbak-restore}
  patch: '[{"op": "remove", "path": "/rules/%d"}]'
`, i)
			home.Apply(t, kustomizeOverlay(t, home.Cluster, dirs, home.Name, target.Name, image, cfg, api, drop))
			job := "plan-without-" + strconv.Itoa(i)
			jobFromCronJob(t, home, "rdbak-redis", job, n.args...)
			code, log := firstJobPod(t, home, job)
			deleteJob(t, home, job)
			t.Logf("rdbak in the Job's pod exited %d:\n%s", code, log)
			if code != 1 {
				t.Errorf("rdbak exited %d, want 1", code)
			}
			for _, s := range n.says {
				if !strings.Contains(log, s) {
					t.Errorf("the log does not say %q", s)
				}
			}
		})
	}
}
