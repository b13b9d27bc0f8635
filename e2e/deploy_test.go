//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
)

// kubectlBin finds a kubectl for kubectl kustomize: PATH, else the
// testbed's build.
func kubectlBin(t *testing.T, c *testcluster.Cluster) string {
	t.Helper()
	if p, err := exec.LookPath("kubectl"); err == nil {
		return p
	}
	m, _ := filepath.Glob(filepath.Join(c.Getenv("RDBAK_CACHE"), "testbed", "bin", "*", "kubectl"))
	if len(m) == 0 {
		testenv.Missing(t, "kubernetes", "no kubectl on PATH nor in the testbed's bin directory")
	}
	return m[len(m)-1]
}

// deployRedis is the target of the deploy tests: the Bitnami-style master
// of e2e/backup_test.go on its Redis 7.4, its password in the Secret "redis"
// that the shipped Role (deploy/base/target/role.yaml) lets rdbak read.
func deployRedis(t *testing.T, ns *testcluster.Namespace) *testenv.Redis {
	t.Helper()
	ns.LocalPV(t, "redis-data-redis-master-0", "1Gi")
	m, srv := manifestOn(ns, t, bitnamiRedis, bitnamiServer)
	ns.Apply(t, strings.ReplaceAll(m, "urbalurba-secrets", "redis"))
	ns.WaitStatefulSet(t, "redis-master")
	src := redisOn(t, ns, "redis-master-0", "p@ss w0rd", srv)
	testenv.FillAllTypes(t, src, 1)
	return src
}

// deployConfig is the rdbak.yaml the test puts in the shipped ConfigMap:
// the shipped one's target, pointed at the test's namespace and MinIO.
func deployConfig(store, targetNS string) string {
	return fmt.Sprintf(`storage: %q
defaults:
  retention: {keepLast: 10}
daemon:
  listen: ":9090"
  leaderElection: {enabled: true, name: rdbak-daemon}
targets:
  - name: redis
    schedule: "@every 20s"
    jitter: 0s
    kubernetes:
      namespace: %s
      statefulset: redis-master
      passwordSecret: {name: redis, key: REDIS_PASSWORD}
      access: pod-ip
`, store, targetNS)
}

// kustomizeOverlay writes a kustomization that takes the shipped
// kustomizations deploy/<dir> (e.g. examples/cronjob) unmodified as its
// resources and patches in the test's namespaces, image, config and
// credentials, plus extra patches; it returns kubectl kustomize's output.
func kustomizeOverlay(t *testing.T, c *testcluster.Cluster, dirs []string, home, targetNS, image, cfg string, extra ...string) string {
	t.Helper()
	name, tag, _ := strings.Cut(image, ":")
	indent := func(s string, n int) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pad)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `images:
- {name: rdbak.local/rdbak, newName: %s, newTag: %s}
patches:
# The test namespaces exist already (testcluster made them).
- patch: |-
    $patch: delete
    apiVersion: v1
    kind: Namespace
    metadata: {name: rdbak}
- target: {namespace: rdbak}
  patch: '[{"op": "replace", "path": "/metadata/namespace", "value": %q}]'
- target: {namespace: redis}
  patch: '[{"op": "replace", "path": "/metadata/namespace", "value": %q}]'
- target: {kind: RoleBinding}
  patch: '[{"op": "replace", "path": "/subjects/0/namespace", "value": %q}]'
- target: {kind: ConfigMap, name: rdbak-config}
  patch: |-
    - op: replace
      path: /data/rdbak.yaml
      value: |
%s
- target: {kind: Secret, name: rdbak-storage}
  patch: |-
    - op: replace
      path: /stringData
      value: {AWS_ACCESS_KEY_ID: %s, AWS_SECRET_ACCESS_KEY: %s}
`, name, tag, home, targetNS, home, indent(cfg, 8), nodeMinIOUser, nodeMinIOSecret)
	for _, p := range extra {
		b.WriteString(p)
	}
	return kustomizeBuild(t, c, dirs, b.String())
}

// kustomizeBuild renders a kustomization of its own that has the shipped
// deploy/<dir>s as resources, plus body (patches and the like).
func kustomizeBuild(t *testing.T, c *testcluster.Cluster, dirs []string, body string) string {
	t.Helper()
	dir := t.TempDir()
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for _, d := range dirs {
		abs, err := filepath.Abs(filepath.Join("..", "deploy", d))
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(dir, abs)
		if err != nil {
			t.Fatal(err)
		}
		k += "- " + rel + "\n"
	}
	k += body
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kubectlBin(t, c), "kustomize", dir).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("kubectl kustomize:\n%s\n%s\nkustomization:\n%s", err, stderr, k)
	}
	return string(out)
}

// jobFromCronJob is `kubectl create job NAME --from=cronjob/CRONJOB`; args,
// when given, replace rdbak's arguments.
func jobFromCronJob(t *testing.T, ns *testcluster.Namespace, cronJob, name string, args ...string) *batchv1.Job {
	t.Helper()
	cj, err := ns.Clientset.BatchV1().CronJobs(ns.Name).Get(t.Context(), cronJob, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get cronjob %s: %v", cronJob, err)
	}
	annotations := map[string]string{"cronjob.kubernetes.io/instantiate": "manual"}
	for k, v := range cj.Spec.JobTemplate.Annotations {
		annotations[k] = v
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns.Name,
			Labels: cj.Spec.JobTemplate.Labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
		},
		Spec: cj.Spec.JobTemplate.Spec,
	}
	if len(args) > 0 {
		job.Spec.Template.Spec.Containers[0].Args = args
	}
	job, err = ns.Clientset.BatchV1().Jobs(ns.Name).Create(t.Context(), job, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create job %s from cronjob %s: %v", name, cronJob, err)
	}
	return job
}

// waitJob waits until job has a Complete or Failed condition and returns it.
func waitJob(t *testing.T, ns *testcluster.Namespace, name string) batchv1.JobConditionType {
	t.Helper()
	var got batchv1.JobConditionType
	ns.WaitFor(t, "job "+name+" to finish", func(ctx context.Context) (bool, error) {
		j, err := ns.Clientset.BatchV1().Jobs(ns.Name).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range j.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				got = c.Type
				return true, nil
			}
		}
		return false, nil
	})
	return got
}

// firstJobPod waits for the first pod of job to terminate and returns its
// exit code and log.
func firstJobPod(t *testing.T, ns *testcluster.Namespace, job string) (int32, string) {
	t.Helper()
	var pod *corev1.Pod
	ns.WaitFor(t, "a pod of job "+job+" to terminate", func(ctx context.Context) (bool, error) {
		l, err := ns.Clientset.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
		if err != nil {
			return false, err
		}
		for i := range l.Items {
			for _, s := range l.Items[i].Status.ContainerStatuses {
				if s.Name == "rdbak" && s.State.Terminated != nil {
					pod = &l.Items[i]
					return true, nil
				}
			}
		}
		return false, nil
	})
	var code int32
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == "rdbak" {
			code = s.State.Terminated.ExitCode
		}
	}
	return code, podLog(t, ns, pod.Name, "rdbak")
}

func podLog(t *testing.T, ns *testcluster.Namespace, pod, container string) string {
	t.Helper()
	raw, err := ns.Clientset.CoreV1().Pods(ns.Name).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(t.Context())
	if err != nil {
		t.Fatalf("log of %s/%s: %v", pod, container, err)
	}
	return string(raw)
}

// deleteJob deletes job and its pods, so that no retry runs on.
func deleteJob(t *testing.T, ns *testcluster.Namespace, name string) {
	t.Helper()
	fg := metav1.DeletePropagationForeground
	if err := ns.Clientset.BatchV1().Jobs(ns.Name).Delete(t.Context(), name, metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatalf("delete job %s: %v", name, err)
	}
	ns.WaitFor(t, "job "+name+" and its pods to be gone", func(ctx context.Context) (bool, error) {
		l, err := ns.Clientset.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + name})
		if err != nil {
			return false, err
		}
		return len(l.Items) == 0, nil
	})
}

// roleRules returns the rules of the rendered Role name.
func roleRules(t *testing.T, objs []*unstructured.Unstructured, name string) []any {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "Role" && o.GetName() == name {
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			return rules
		}
	}
	t.Fatalf("the rendered manifests have no Role %s", name)
	return nil
}

// TestDeployCronJob applies deploy/examples/cronjob as shipped (the test's
// namespaces, image, config and MinIO patched in by a kustomization of its
// own), runs a Job from the CronJob as the shipped ServiceAccount, and
// checks the backup from outside. Then it takes each rule out of the
// shipped Role in turn: the Job must fail with rdbak's permission error
// naming what that rule grants, and store nothing.
func TestDeployCronJob(t *testing.T) {
	image := restoreImage(t)
	target := testcluster.New(t)
	home := target.NewNamespace(t)
	store := startNodeMinIO(t, target.Cluster)
	src := deployRedis(t, target)
	want := src.Digest(t)

	cfg := deployConfig(store.url, target.Name)
	cronjob := []string{"examples/cronjob"}
	api := apiServerEnv(t, home.Cluster, "CronJob", "/spec/jobTemplate/spec/template/spec")
	objs := home.Apply(t, kustomizeOverlay(t, home.Cluster, cronjob, home.Name, target.Name, image, cfg, api))
	rules := roleRules(t, objs, "rdbak-backup")

	jobFromCronJob(t, home, "rdbak-redis", "manual")
	if got := waitJob(t, home, "manual"); got != batchv1.JobComplete {
		_, log := firstJobPod(t, home, "manual")
		t.Fatalf("job from the shipped CronJob: %s, want Complete; log:\n%s", got, log)
	}
	ms := store.backups(t, home)
	if len(ms) != 1 || ms[0].Target != "redis" {
		t.Fatalf("MinIO holds %+v, want one backup of target redis", ms)
	}
	rdbak(t, home, store.env, "verify", "latest", "--storage", store.url, "--target", "redis").ok(t)
	if got := restoredDigestOn(t, home, src.Server, store.url, ms[0].ID, store.env...); got != want {
		t.Fatalf("restored digest %s, the pod's %s", got, want)
	}

	// Least privilege: what each rule grants, as rdbak names it. A rule
	// the test does not know fails it, so the Role and this list move
	// together.
	tn := target.Name
	says := map[string][]string{
		"pods":                     {"get pods in namespace " + tn, "list pods in namespace " + tn},
		"statefulsets,deployments": {"get statefulsets redis-master in namespace " + tn},
		"pods/exec":                {"create pods/exec in namespace " + tn, "get pods/exec in namespace " + tn},
		"secrets":                  {"get secrets redis in namespace " + tn},
	}
	// Rules whose loss only costs a warning: the backup still succeeds.
	optional := map[string]string{"events": "could not record a Kubernetes event"}
	before := store.objects(t)
	for i, r := range rules {
		res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
		key := strings.Join(res, ",")
		want, ok := says[key]
		warning, isOptional := optional[key]
		if !ok && !isOptional {
			t.Errorf("rule %d of the shipped Role (%s) has no expectation here: add one", i, key)
			continue
		}
		t.Run("without "+strings.ReplaceAll(key, "/", " "), func(t *testing.T) {
			drop := fmt.Sprintf(`- target: {kind: Role, name: rdbak-backup}
  patch: '[{"op": "remove", "path": "/rules/%d"}]'
`, i)
			home.Apply(t, kustomizeOverlay(t, home.Cluster, cronjob, home.Name, target.Name, image, cfg, api, drop))
			job := "without-" + strconv.Itoa(i)
			jobFromCronJob(t, home, "rdbak-redis", job)
			code, log := firstJobPod(t, home, job)
			deleteJob(t, home, job)
			t.Logf("rdbak in the Job's pod exited %d:\n%s", code, log)
			if isOptional {
				if code != 0 || !strings.Contains(log, warning) {
					t.Errorf("rdbak exited %d, want 0 with the warning %q; log:\n%s", code, log, warning)
				}
				before = store.objects(t)
				return
			}
			if code != 1 {
				t.Errorf("rdbak exited %d, want 1; log:\n%s", code, log)
			}
			for _, s := range append([]string{"missing Kubernetes permissions"}, want...) {
				if !strings.Contains(log, s) {
					t.Errorf("the log does not say %q:\n%s", s, log)
				}
			}
			if strings.Contains(log, "panic") {
				t.Errorf("rdbak crashed:\n%s", log)
			}
			if after := store.objects(t); len(after) != len(before) {
				t.Errorf("the bucket held %d objects before, %d after a refused backup: %v", len(before), len(after), after)
			}
		})
	}
	// The shipped Role again: the same Job works once more.
	home.Apply(t, kustomizeOverlay(t, home.Cluster, cronjob, home.Name, target.Name, image, cfg, api))
	jobFromCronJob(t, home, "rdbak-redis", "again")
	if got := waitJob(t, home, "again"); got != batchv1.JobComplete {
		t.Fatalf("job with the shipped Role restored: %s, want Complete", got)
	}

	// deploy/base/cluster instead of the target's Role: the same backup.
	// Its cluster-wide names get the test's namespace as a suffix.
	if err := home.Clientset.RbacV1().RoleBindings(target.Name).Delete(t.Context(), "rdbak-backup", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete the target's RoleBinding: %v", err)
	}
	cluster := home.Apply(t, kustomizeBuild(t, home.Cluster, []string{"base/cluster"}, fmt.Sprintf(`nameSuffix: -%s
patches:
- target: {kind: ClusterRoleBinding}
  patch: '[{"op": "replace", "path": "/subjects/0/namespace", "value": %q}]'
`, home.Name, home.Name)))
	for _, o := range cluster {
		if cr, _, _ := unstructured.NestedSlice(o.Object, "rules"); o.GetKind() == "ClusterRole" && !reflect.DeepEqual(cr, rules) {
			t.Errorf("deploy/base/cluster grants %v, deploy/base/target %v", cr, rules)
		}
	}
	jobFromCronJob(t, home, "rdbak-redis", "cluster")
	if got := waitJob(t, home, "cluster"); got != batchv1.JobComplete {
		_, log := firstJobPod(t, home, "cluster")
		t.Fatalf("job with the ClusterRole of deploy/base/cluster: %s, want Complete; log:\n%s", got, log)
	}

	t.Run("restore RBAC", func(t *testing.T) { restoreRBAC(t, home, target, image, cfg, api) })
}
