//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
)

// identitySecretName is the Secret deploy/base/restore/role.yaml lets
// rdbak read: encryption.identitySecret in the test's config.
const identitySecretName = "rdbak-identity"

// knownValue is written into Redis before the backup; the stored objects
// must not show it.
const knownValue = "known-plaintext-8d1f0c2a-only-encryption-hides-this"

// encryptedConfig is deployConfig with every target's backups encrypted to
// recipient, uncompressed (so that only encryption can hide knownValue),
// and the identity in the Secret identitySecretName of the target's
// namespace.
func encryptedConfig(store, targetNS, recipient string) string {
	return strings.Replace(deployConfig(store, targetNS), "defaults:\n",
		fmt.Sprintf("compression: {codec: none}\ndefaults:\n  encryption:\n    recipients: [%s]\n    identitySecret: {name: %s, key: identity}\n", recipient, identitySecretName), 1)
}

// newIdentity returns a fresh age identity and the file that holds it, as
// age-keygen writes it.
func newIdentity(t *testing.T, name string) (*age.X25519Identity, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte("# public key: "+id.Recipient().String()+"\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return id, p
}

// get reads one object of the bucket.
func (m *nodeMinIO) get(t *testing.T, key string) []byte {
	t.Helper()
	out, err := m.client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(nodeMinIOBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

// untouched is what a refused restore must leave as it was: the Redis
// pod (same UID, no container restart), its StatefulSet (one replica, no
// restore annotation), and the live data (r still answers on the same
// port-forward and holds the key written after the backup).
type untouched struct {
	uid      string
	restarts int32
}

func observe(t *testing.T, ns *testcluster.Namespace, pod string) untouched {
	t.Helper()
	p, err := ns.Clientset.CoreV1().Pods(ns.Name).Get(t.Context(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := untouched{uid: string(p.UID)}
	for _, s := range p.Status.ContainerStatuses {
		u.restarts += s.RestartCount
	}
	return u
}

func (u untouched) check(t *testing.T, ns *testcluster.Namespace, pod, statefulSet string, r *testenv.Redis) {
	t.Helper()
	if now := observe(t, ns, pod); now != u {
		t.Errorf("pod %s was %+v before the refused restore, %+v after: it was restarted", pod, u, now)
	}
	sts, err := ns.Clientset.AppsV1().StatefulSets(ns.Name).Get(t.Context(), statefulSet, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *sts.Spec.Replicas != 1 || sts.Annotations["rdbak.io/restore-replicas"] != "" {
		t.Errorf("statefulset %s after a refused restore: %d replicas, annotations %v", statefulSet, *sts.Spec.Replicas, sts.Annotations)
	}
	if n, err := r.Client(t).Exists(t.Context(), "written-after-the-backup").Result(); err != nil || n != 1 {
		t.Errorf("the live data after a refused restore: written-after-the-backup exists %d (%v), want 1", n, err)
	}
	l, err := ns.Clientset.CoreV1().Pods(ns.Name).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=restore"})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 0 {
		t.Errorf("a refused restore left %d restore pods", len(l.Items))
	}
}

// restorePods records every restore pod created in ns while it runs, so
// the test can check what they were given.
type restorePods struct {
	mu   sync.Mutex
	pods []*corev1.Pod
	stop func()
}

func watchRestorePods(t *testing.T, ns *testcluster.Namespace) *restorePods {
	t.Helper()
	w, err := ns.Clientset.CoreV1().Pods(ns.Name).Watch(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=restore"})
	if err != nil {
		t.Fatal(err)
	}
	rp := &restorePods{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type == watch.Added {
				rp.mu.Lock()
				rp.pods = append(rp.pods, p)
				rp.mu.Unlock()
			}
		}
	}()
	rp.stop = func() { w.Stop(); <-done }
	return rp
}

// checkPlaintextOnly stops the watch and checks each restore pod: it got
// no Secret (volume, env), no identity in its spec; it mounts only the data
// volume (so what it writes lands there). rdbak decrypts in its own process
// and streams the plain RDB in through exec.
func (rp *restorePods) checkPlaintextOnly(t *testing.T, want int) {
	t.Helper()
	rp.stop()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if len(rp.pods) != want {
		t.Fatalf("saw %d restore pods, want %d", len(rp.pods), want)
	}
	for _, p := range rp.pods {
		spec, _ := json.Marshal(p.Spec)
		if bytes.Contains(spec, []byte("AGE-SECRET-KEY")) || bytes.Contains(spec, []byte(identitySecretName)) {
			t.Errorf("restore pod %s was given the identity: %s", p.Name, spec)
		}
		if a := p.Spec.AutomountServiceAccountToken; a == nil || *a {
			t.Errorf("restore pod %s mounts a ServiceAccount token: it needs no API access", p.Name)
		}
		for _, v := range p.Spec.Volumes {
			if v.Secret != nil || v.Projected != nil {
				t.Errorf("restore pod %s mounts volume %s from a Secret or token", p.Name, v.Name)
			}
		}
		if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].PersistentVolumeClaim == nil {
			t.Errorf("restore pod %s has volumes %+v, want the data PVC only", p.Name, p.Spec.Volumes)
		}
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			if len(c.Env) > 0 || len(c.EnvFrom) > 0 {
				t.Errorf("restore pod %s container %s has environment %v %v", p.Name, c.Name, c.Env, c.EnvFrom)
			}
		}
	}
}

// TestDeployCronJobEncrypted runs deploy/examples/cronjob with encryption
// on (defaults.encryption: recipients, identitySecret) and proves, on a
// real cluster: the Job's backup is encrypted (the bucket does not show a
// value the dump holds); verify without an identity says STORED-OK, with
// one (a file, or the Secret read in-cluster as the shipped ServiceAccount)
// OK; restores into the StatefulSet with --identity-file and, in a Job,
// with the Secret bring the digest back, while the restore pod only ever
// gets plaintext through exec; a wrong identity and a restore Role without
// the Secret rule are refused before any downtime.
func TestDeployCronJobEncrypted(t *testing.T) {
	image := restoreImage(t)
	target := testcluster.New(t)
	home := target.NewNamespace(t)
	store := startNodeMinIO(t, target.Cluster)
	src := deployRedis(t, target)
	if err := src.Client(t).Set(t.Context(), "known", knownValue, 0).Err(); err != nil {
		t.Fatal(err)
	}
	want := src.Digest(t)
	tn := target.Name
	id, key := newIdentity(t, "key.txt")
	_, wrong := newIdentity(t, "wrong.txt")
	if _, err := target.Clientset.CoreV1().Secrets(tn).Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: identitySecretName},
		StringData: map[string]string{"identity": "# created by age-keygen\n" + id.String() + "\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	cfg := encryptedConfig(store.url, tn, id.Recipient().String())
	dirs := []string{"examples/cronjob", "base/restore"}
	api := apiServerEnv(t, home.Cluster, "CronJob", "/spec/jobTemplate/spec/template/spec")
	objs := home.Apply(t, kustomizeOverlay(t, home.Cluster, dirs, home.Name, tn, image, cfg, api))

	// The backup, as the CronJob takes it: encrypted, the bucket shows
	// neither the value nor an identity.
	jobFromCronJob(t, home, "rdbak-redis", "backup")
	if got := waitJob(t, home, "backup"); got != batchv1.JobComplete {
		_, log := firstJobPod(t, home, "backup")
		t.Fatalf("job from the CronJob with encryption: %s, want Complete; log:\n%s", got, log)
	}
	ms := store.backups(t, home)
	if len(ms) != 1 || !ms[0].Data.Encrypted() || len(ms[0].Data.Encryption.Recipients) != 1 || ms[0].Data.Encryption.Recipients[0] != id.Recipient().String() {
		t.Fatalf("MinIO holds %+v, want one backup encrypted to %s", ms, id.Recipient())
	}
	backupID := ms[0].ID
	objects := store.objects(t)
	if len(objects) < 2 {
		t.Fatalf("the bucket holds %v, want the data and the manifest", objects)
	}
	for _, o := range objects {
		b := store.get(t, o)
		if bytes.Contains(b, []byte(knownValue)) {
			t.Errorf("object %s shows the value %q in plaintext", o, knownValue)
		}
		if bytes.Contains(b, []byte("AGE-SECRET-KEY")) {
			t.Errorf("object %s holds an identity", o)
		}
	}

	// verify from outside: without an identity only the stored object is
	// checked, and says so; with the file, or the config's Secret, all.
	env := append([]string{"TMPDIR=" + t.TempDir()}, store.env...)
	r := rdbak(t, home, env, "verify", backupID, "--storage", store.url, "--target", "redis", "-o", "json")
	var vr struct {
		Status         string `json:"status"`
		OK             bool   `json:"ok"`
		ContentChecked bool   `json:"contentChecked"`
	}
	if err := json.Unmarshal([]byte(r.ok(t)), &vr); err != nil || vr.Status != "STORED-OK" || vr.OK || vr.ContentChecked {
		t.Errorf("verify -o json without an identity = %+v (%v), want status STORED-OK, ok and contentChecked false:\n%s", vr, err, r.stdout)
	}
	if out := rdbak(t, home, env, "verify", backupID, "--storage", store.url, "--target", "redis", "--identity-file", key).ok(t); !strings.HasPrefix(out, "OK ") {
		t.Errorf("verify --identity-file: %q, want OK", out)
	}
	rdbak(t, home, env, "verify", backupID, "--storage", store.url, "--target", "redis", "--identity-file", wrong).fails(t, 4, "none of the given identities", id.Recipient().String())
	local := filepath.Join(t.TempDir(), "rdbak.yaml")
	if err := os.WriteFile(local, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := rdbak(t, home, env, "verify", backupID, "--config", local, "--target", "redis").ok(t); !strings.HasPrefix(out, "OK ") {
		t.Errorf("verify with the config's identitySecret: %q, want OK", out)
	}
	// The plain RDB holds the value: the check of the bucket above could fail.
	dump := filepath.Join(t.TempDir(), "dump.rdb")
	rdbak(t, home, env, "restore", backupID, "--config", local, "--target", "redis", "--to-file", dump).ok(t)
	if b, err := os.ReadFile(dump); err != nil || !bytes.Contains(b, []byte(knownValue)) {
		t.Fatalf("the restored dump does not show %q (%v): the bucket check proves nothing", knownValue, err)
	}

	// verify in the cluster, as the shipped ServiceAccount: the identity
	// comes from the Secret, which deploy/base/restore's Role lets it read.
	jobFromCronJob(t, home, "rdbak-redis", "verify", "verify", backupID, "--config", "/etc/rdbak/rdbak.yaml", "--target", "redis")
	if code, log := firstJobPod(t, home, "verify"); code != 0 || !strings.Contains(log, "OK redis/"+backupID) || strings.Contains(log, "STORED-OK") {
		t.Errorf("verify in a Job: exit %d, want 0 and OK redis/%s; log:\n%s", code, backupID, log)
	}
	deleteJob(t, home, "verify")

	sts := "--statefulset=" + tn + "/redis-master"
	adhoc := []string{"restore", backupID, "--storage", store.url, "--target", "redis", sts, "--password-secret", "redis/REDIS_PASSWORD",
		"--strategy", "offline", "--restore-image", image, "--yes"}

	// A wrong identity is refused before anything changes.
	change(t, src)
	before := observe(t, target, "redis-master-0")
	rdbak(t, home, env, append(adhoc, "--identity-file", wrong)...).fails(t, 4, "none of the given identities", id.Recipient().String())
	before.check(t, target, "redis-master-0", "redis-master", src)
	rdbak(t, home, env, append(adhoc, "--dry-run")...).fails(t, 2, "encrypted", "--identity-file")
	before.check(t, target, "redis-master-0", "redis-master", src)

	// --identity-file: rdbak decrypts, the restore pod gets plaintext.
	pods := watchRestorePods(t, target)
	rdbak(t, home, env, append(adhoc, "--identity-file", key)...).ok(t)
	pods.checkPlaintextOnly(t, 1)
	if got := redisOn(t, target, "redis-master-0", "p@ss w0rd", src.Server).Digest(t); got != want {
		t.Fatalf("after restore --identity-file: digest %s, want %s", got, want)
	}
	for _, dir := range []string{strings.TrimPrefix(env[0], "TMPDIR=")} {
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("rdbak left files in its TMPDIR: %v", ents)
		}
	}

	// In a Job, with the Secret: the restore runbook's way.
	live := redisOn(t, target, "redis-master-0", "p@ss w0rd", src.Server)
	change(t, live)
	inCluster := []string{"restore", backupID, "--config", "/etc/rdbak/rdbak.yaml", "--target", "redis", "--strategy", "offline", "--restore-image", image, "--yes"}

	// Without the restore Role's secrets rule: refused by the permission
	// review, naming the Secret, before any downtime.
	rules := roleRules(t, objs, "rdbak-restore")
	drop := -1
	for i, r := range rules {
		if res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources"); len(res) == 1 && res[0] == "secrets" {
			drop = i
		}
	}
	if drop < 0 {
		t.Fatalf("deploy/base/restore's Role has no secrets rule for the identity: %v", rules)
	}
	home.Apply(t, kustomizeOverlay(t, home.Cluster, dirs, home.Name, tn, image, cfg, api, fmt.Sprintf(`- target: {kind: Role, name: rdbak-restore}
  patch: '[{"op": "remove", "path": "/rules/%d"}]'
`, drop)))
	before = observe(t, target, "redis-master-0")
	jobFromCronJob(t, home, "rdbak-redis", "restore-no-rbac", inCluster...)
	code, log := firstJobPod(t, home, "restore-no-rbac")
	deleteJob(t, home, "restore-no-rbac")
	if code != 1 || !strings.Contains(log, "missing Kubernetes permissions") || !strings.Contains(log, "get secrets "+identitySecretName+" in namespace "+tn) {
		t.Errorf("restore without the identity Secret rule: exit %d, want 1 naming get secrets %s; log:\n%s", code, identitySecretName, log)
	}
	before.check(t, target, "redis-master-0", "redis-master", live)

	home.Apply(t, kustomizeOverlay(t, home.Cluster, dirs, home.Name, tn, image, cfg, api))
	pods = watchRestorePods(t, target)
	jobFromCronJob(t, home, "rdbak-redis", "restore", inCluster...)
	if got := waitJob(t, home, "restore"); got != batchv1.JobComplete {
		_, log := firstJobPod(t, home, "restore")
		t.Fatalf("restore in a Job with the identity Secret: %s, want Complete; log:\n%s", got, log)
	}
	pods.checkPlaintextOnly(t, 1)
	if got := redisOn(t, target, "redis-master-0", "p@ss w0rd", src.Server).Digest(t); got != want {
		t.Fatalf("after the restore in a Job: digest %s, want %s", got, want)
	}
}
