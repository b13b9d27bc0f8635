//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
)

var (
	imageOnce sync.Once
	imageRef  string
	imageErr  error
)

// restoreImage builds the rdbak image and imports it into the testbed once,
// for the offline strategy's restore pod.
func restoreImage(t *testing.T) string {
	t.Helper()
	imageOnce.Do(func() {
		out, err := exec.Command("bash", "../hack/image.sh", "--import", "--version", "e2e").Output()
		if err != nil {
			imageErr = fmt.Errorf("hack/image.sh --import: %w", err)
			return
		}
		f := strings.Fields(strings.TrimSpace(string(out)))
		if len(f) != 2 {
			imageErr = fmt.Errorf("hack/image.sh printed %q, want <tarball> <reference>", out)
			return
		}
		imageRef = f[1]
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageRef
}

// emptyDirRedis keeps its data on an emptyDir: it survives a container
// restart, not a new pod, so only the in-place strategy can restore it.
const emptyDirRedis = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: scratch}
spec:
  replicas: 1
  selector: {matchLabels: {app: scratch}}
  template:
    metadata: {labels: {app: scratch}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: redis
        image: %[1]s
        imagePullPolicy: Never
        command: [redis-server, --dir, /data, %[2]s]
        ports: [{containerPort: 6379}]
        readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 1}
        volumeMounts: [{name: data, mountPath: /data}]
      volumes: [{name: data, emptyDir: {}}]
`

// change overwrites the dataset with something else, so a restore has to
// bring the backed-up data back.
func change(t *testing.T, r *testenv.Redis) {
	t.Helper()
	c := r.Client(t)
	if err := c.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(t.Context(), "written-after-the-backup", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// shape is one workload a restore is proven on.
type shape struct {
	name     string
	setup    func(t *testing.T, ns *testcluster.Namespace) (pod func() string, args []string)
	password string
	// restart restarts Redis the way this workload's users would see it.
	restart func(t *testing.T, ns *testcluster.Namespace, pod string)
	// logs is what the restore must log, if anything.
	logs string
}

// newPod deletes a Deployment's pod and waits for its replacement.
func newPod(t *testing.T, ns *testcluster.Namespace, pod string) {
	t.Helper()
	p, err := ns.Clientset.CoreV1().Pods(ns.Name).Get(t.Context(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Clientset.CoreV1().Pods(ns.Name).Delete(t.Context(), pod, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns.WaitFor(t, "a new pod to replace "+pod, func(ctx context.Context) (bool, error) {
		l, err := ns.Clientset.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: "app=" + p.Labels["app"]})
		if err != nil {
			return false, err
		}
		return len(l.Items) == 1 && l.Items[0].Name != pod && testcluster.PodReady(&l.Items[0]), nil
	})
}

func samePod(t *testing.T, ns *testcluster.Namespace, pod string) { ns.RecreatePod(t, pod) }

// containerRestart makes Redis exit the usual way (SHUTDOWN with its save
// points) so the kubelet restarts the container in the same pod.
func containerRestart(t *testing.T, ns *testcluster.Namespace, pod string) {
	t.Helper()
	before, err := ns.Clientset.CoreV1().Pods(ns.Name).Get(t.Context(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := ns.Exec(t.Context(), pod, []string{"redis-cli", "shutdown"}, testcluster.ExecOptions{Stdout: &out, Stderr: &out}); err != nil {
		t.Logf("redis-cli shutdown: %v (%s)", err, out.String()) // the connection may drop as Redis exits
	}
	ns.WaitPod(t, pod, "to restart Redis", func(p *corev1.Pod) bool {
		return testcluster.PodReady(p) && p.Status.ContainerStatuses[0].RestartCount > before.Status.ContainerStatuses[0].RestartCount
	})
}

var shapes = []shape{
	{
		name: "exchange-redis deployment with subPath, Redis 6.2",
		setup: func(t *testing.T, ns *testcluster.Namespace) (func() string, []string) {
			ns.LocalPV(t, "exchange-redis-data", "1Gi")
			m, _ := manifestOn(ns, t, exchangeRedis, exchangeServer)
			ns.Apply(t, m)
			d := ns.WaitDeployment(t, "exchange-redis")
			return func() string { return ns.PodsOf(t, d.Spec.Selector)[0].Name }, []string{"--deployment", ns.Name + "/exchange-redis"}
		},
		restart: newPod,
	},
	{
		name: "statefulset with save off",
		setup: func(t *testing.T, ns *testcluster.Namespace) (func() string, []string) {
			statefulRedisUp(t, ns)
			return func() string { return "redis-0" }, []string{"--statefulset", ns.Name + "/redis"}
		},
		restart: samePod,
	},
	{
		name: "statefulset whose Redis refuses SHUTDOWN: scaled instead of restarted",
		setup: func(t *testing.T, ns *testcluster.Namespace) (func() string, []string) {
			ns.LocalPV(t, "data-redis-0", "1Gi")
			m := strings.Replace(manifest(ns, t, statefulRedis), `--save, "",`, `--save, "", --rename-command, SHUTDOWN, "",`, 1)
			ns.Apply(t, m)
			ns.WaitStatefulSet(t, "redis")
			return func() string { return "redis-0" }, []string{"--statefulset", ns.Name + "/redis"}
		},
		restart: samePod,
		logs:    "Redis refused to restart in place; scaling the workload instead",
	},
	{
		name:     "bitnami-style master with auth and AOF, Redis 7.4",
		password: "p@ss w0rd",
		setup: func(t *testing.T, ns *testcluster.Namespace) (func() string, []string) {
			ns.LocalPV(t, "redis-data-redis-master-0", "1Gi")
			m, _ := manifestOn(ns, t, bitnamiRedis, bitnamiServer)
			ns.Apply(t, m)
			ns.WaitStatefulSet(t, "redis-master")
			return func() string { return "redis-master-0" }, []string{"-n", ns.Name, "--helm-release", "redis", "--password-secret", "urbalurba-secrets/REDIS_PASSWORD"}
		},
		restart: samePod,
	},
	{
		name: "emptyDir deployment, in place",
		setup: func(t *testing.T, ns *testcluster.Namespace) (func() string, []string) {
			ns.Apply(t, manifest(ns, t, emptyDirRedis))
			d := ns.WaitDeployment(t, "scratch")
			return func() string { return ns.PodsOf(t, d.Spec.Selector)[0].Name }, []string{"--deployment", ns.Name + "/scratch"}
		},
		restart: containerRestart,
	},
}

// TestRestoreShapes: write data, back up, change it, restore, and the
// digest is the backup's — also after a further restart of the pod.
func TestRestoreShapes(t *testing.T) {
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			ns := testcluster.New(t)
			pod, args := sh.setup(t, ns)
			src := redisIn(t, ns, pod(), sh.password)
			testenv.FillAllTypes(t, src, 1)
			want := src.Digest(t)
			store := "file://" + t.TempDir()
			rdbak(t, ns, nil, append([]string{"now", "--storage", store, "--target", "app"}, args...)...).ok(t)
			change(t, src)

			// The plan first: nothing changes.
			plan := rdbak(t, ns, nil, append([]string{"restore", "latest", "--storage", store, "--target", "app", "--dry-run", "--restore-image", restoreImage(t)}, args...)...).ok(t)
			if !strings.Contains(plan, "Restore plan") || !strings.Contains(plan, "strategy:") {
				t.Fatalf("dry run printed:\n%s", plan)
			}
			if got := src.Digest(t); got == want {
				t.Fatal("the dry run changed the data")
			}
			res := rdbak(t, ns, nil, append([]string{"restore", "latest", "--storage", store, "--target", "app", "--yes", "--restore-image", restoreImage(t)}, args...)...)
			res.ok(t)
			if !strings.Contains(res.stderr, sh.logs) {
				t.Errorf("the restore did not log %q:\n%s", sh.logs, res.stderr)
			}
			if got := redisIn(t, ns, pod(), sh.password).Digest(t); got != want {
				t.Fatalf("after restore digest %s, want %s", got, want)
			}
			// A further restart loads the same data: nothing wrote over it.
			sh.restart(t, ns, pod())
			if got := redisIn(t, ns, pod(), sh.password).Digest(t); got != want {
				t.Fatalf("after another restart digest %s, want %s", got, want)
			}
		})
	}
}

const replicaPod = `
apiVersion: v1
kind: Pod
metadata: {name: replica}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: redis
    image: %[1]s
    imagePullPolicy: Never
    command: [redis-server, --save, "", --replicaof, %[3]s, "6379", %[2]s]
    readinessProbe: {exec: {command: [sh, -c, "redis-cli info replication | grep -q master_link_status:up"]}, periodSeconds: 1}
`

// TestRestoreRefusesReplicas: a master with a connected replica is refused
// (the replica would resync from the restored data) until overridden.
func TestRestoreRefusesReplicas(t *testing.T) {
	ns := testcluster.New(t)
	statefulRedisUp(t, ns)
	p := ns.WaitPodReady(t, "redis-0")
	ns.Apply(t, fmt.Sprintf(replicaPod, ns.RedisImage(t), redisArgs, p.Status.PodIP))
	ns.WaitPodReady(t, "replica")
	src := redisIn(t, ns, "redis-0", "")
	testenv.FillAllTypes(t, src, 1)
	store := "file://" + t.TempDir()
	rdbak(t, ns, nil, "now", "--storage", store, "--target", "app", "--pod", ns.Name+"/redis-0").ok(t)
	change(t, src)
	before := src.Digest(t)
	rdbak(t, ns, nil, "restore", "latest", "--storage", store, "--target", "app", "--yes", "--statefulset", ns.Name+"/redis", "--restore-image", restoreImage(t)).
		fails(t, 1, "1 connected replicas", "--allow-replicas")
	if got := src.Digest(t); got != before {
		t.Fatal("a refused restore changed the data")
	}
}

// startUntilRestorePod starts rdbak with args and returns once its restore
// pod exists (and runs, if running), with rdbak still going.
func startUntilRestorePod(t *testing.T, ns *testcluster.Namespace, args []string, running bool) (*exec.Cmd, *testenv.Buffer, string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), rdbakBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig(ns))
	stderr := &testenv.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for {
		l, err := ns.Clientset.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=restore"})
		if err == nil && len(l.Items) > 0 && (!running || l.Items[0].Status.Phase == corev1.PodRunning) {
			return cmd, stderr, l.Items[0].Name
		}
		if ctx.Err() != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no restore pod appeared; rdbak said:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// killRestorePod deletes the restore pod at once and checks that rdbak, run
// as cmd, then fails with an error that contains want.
func killRestorePod(t *testing.T, ns *testcluster.Namespace, cmd *exec.Cmd, stderr *testenv.Buffer, pod, want string) {
	t.Helper()
	zero := int64(0)
	if err := ns.Clientset.CoreV1().Pods(ns.Name).Delete(t.Context(), pod, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code == 0 {
		t.Fatalf("rdbak succeeded although its restore pod was killed (%v):\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("the error does not say %q:\n%s", want, stderr.String())
	}
}

// TestRestoreRefusesNoVolume: data on the container's own filesystem
// cannot be restored into; nothing changes.
func TestRestoreRefusesNoVolume(t *testing.T) {
	ns := testcluster.New(t)
	ns.Apply(t, manifest(ns, t, strings.Replace(cacheRedis, "replicas: 2", "replicas: 1", 1)))
	d := ns.WaitDeployment(t, "cache")
	p := ns.PodsOf(t, d.Spec.Selector)[0].Name
	src := redisIn(t, ns, p, "")
	testenv.FillAllTypes(t, src, 1)
	store := "file://" + t.TempDir()
	rdbak(t, ns, nil, "now", "--storage", store, "--target", "app", "--pod", ns.Name+"/"+p).ok(t)
	before := src.Digest(t)
	rdbak(t, ns, nil, "restore", "latest", "--storage", store, "--target", "app", "--yes", "--pod", ns.Name+"/"+p).
		fails(t, 1, "not on a volume")
	if got := src.Digest(t); got != before {
		t.Fatal("a refused restore changed the data")
	}
}

// TestRestoreUnderQuota: in a namespace whose ResourceQuota covers limits,
// with no LimitRange, the API server refuses a staging pod without them:
// the restore fails before Redis stops and names the flags; with
// --restore-requests and --restore-limits it restores.
func TestRestoreUnderQuota(t *testing.T) {
	ns := testcluster.New(t)
	statefulRedisUp(t, ns)
	src := redisIn(t, ns, "redis-0", "")
	testenv.FillAllTypes(t, src, 1)
	want := src.Digest(t)
	store := "file://" + t.TempDir()
	rdbak(t, ns, nil, "now", "--storage", store, "--target", "app", "--statefulset", ns.Name+"/redis").ok(t)
	change(t, src)
	before := src.Digest(t)
	plan := []string{"restore", "latest", "--storage", store, "--target", "app", "--statefulset", ns.Name + "/redis", "--restore-image", restoreImage(t)}
	args := append(plan[:len(plan):len(plan)], "--yes")
	dryRun := append(plan[:len(plan):len(plan)], "--dry-run")
	if out := rdbak(t, ns, nil, dryRun...).ok(t); !strings.Contains(out, "admits the staging pod") {
		t.Errorf("the plan does not say the staging pod was tried:\n%s", out)
	}
	// The trial was a dry run: no staging pod was made.
	pods, err := ns.Clientset.CoreV1().Pods(ns.Name).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=restore"})
	if err != nil || len(pods.Items) != 0 {
		t.Fatalf("staging pods after --dry-run: %d, err %v; want none", len(pods.Items), err)
	}

	// The quota comes after Redis, which has no limits: admission checks
	// only new pods, once the quota controller has filled in its status.
	ns.Apply(t, `
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute}
spec: {hard: {limits.cpu: "4", limits.memory: 4Gi}}
`)
	err = wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		q, err := ns.Clientset.CoreV1().ResourceQuotas(ns.Name).Get(ctx, "compute", metav1.GetOptions{})
		return err == nil && len(q.Status.Hard) > 0, nil
	})
	if err != nil {
		t.Fatalf("the ResourceQuota's status was never filled in: %v", err)
	}
	// The plan refuses it, and so does the restore, before Redis stops.
	rdbak(t, ns, nil, dryRun...).fails(t, 1, "staging-pod", "failed quota", "must specify limits", "--restore-limits")
	rdbak(t, ns, nil, args...).fails(t, 1, "staging-pod", "failed quota", "must specify limits", "--restore-limits")
	if got := src.Digest(t); got != before {
		t.Fatal("a refused restore changed the data")
	}
	rdbak(t, ns, nil, append(args, "--restore-requests", "cpu=100m,memory=64Mi", "--restore-limits", "cpu=1,memory=256Mi")...).ok(t)
	if got := redisIn(t, ns, "redis-0", "").Digest(t); got != want {
		t.Fatalf("after restore digest %s, want the backup's %s", got, want)
	}
}

// TestRestoreFaults: a corrupt backup, a backup newer than the target and a
// Ctrl-C half way leave the live data as it was and the workload at its
// replica count.
func TestRestoreFaults(t *testing.T) {
	ns := testcluster.New(t)
	pv := statefulRedisUp(t, ns)
	src := redisIn(t, ns, "redis-0", "")
	testenv.FillAllTypes(t, src, 3)
	dir := t.TempDir()
	store := "file://" + dir
	id := rdbak(t, ns, nil, "now", "--storage", store, "--target", "app", "--pod", ns.Name+"/redis-0").ok(t)
	change(t, src)
	live := src.Digest(t)
	args := []string{"restore", id, "--storage", store, "--target", "app", "--yes", "--statefulset", ns.Name + "/redis", "--restore-image", restoreImage(t)}
	unchanged := func(t *testing.T) {
		t.Helper()
		sts := ns.WaitStatefulSet(t, "redis")
		if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
			t.Fatalf("statefulset replicas = %v, want 1", sts.Spec.Replicas)
		}
		if _, ok := sts.Annotations["rdbak.io/restore-replicas"]; ok {
			t.Errorf("the restore annotation was left on the statefulset")
		}
		if got := redisIn(t, ns, "redis-0", "").Digest(t); got != live {
			t.Fatalf("live digest %s, want the unchanged %s", got, live)
		}
	}

	t.Run("corrupt backup", func(t *testing.T) {
		obj := filepath.Join(dir, "app", id, "dump.rdb.zst")
		orig, err := os.ReadFile(obj)
		if err != nil {
			t.Fatal(err)
		}
		bad := append([]byte{}, orig...)
		bad[len(bad)/2] ^= 0x10
		if err := os.WriteFile(obj, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(obj, orig, 0o600)
		rdbak(t, ns, nil, args...).fails(t, 4, "failed verification")
		unchanged(t)
	})
	t.Run("backup newer than the target", func(t *testing.T) {
		mf := filepath.Join(dir, "app", id, "manifest.json")
		orig, err := os.ReadFile(mf)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(mf, orig, 0o600)
		newer := strings.Replace(string(orig), `"version": 10,`, `"version": 12,`, 1)
		if newer == string(orig) {
			t.Fatalf("manifest has no RDB version 10 to edit:\n%s", orig)
		}
		if err := os.WriteFile(mf, []byte(newer), 0o600); err != nil {
			t.Fatal(err)
		}
		rdbak(t, ns, nil, args...).fails(t, 1, "RDB version 12", "loads RDB versions up to 10")
		unchanged(t)
	})
	t.Run("restore pod killed mid-write", func(t *testing.T) {
		// 96 MiB of random values keep the stream flowing long enough.
		c := src.Client(t)
		blob := make([]byte, 1<<20)
		for i := 0; i < 96; i++ {
			rand.Read(blob)
			if err := c.Set(t.Context(), fmt.Sprintf("blob:%d", i), blob, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		big := rdbak(t, ns, nil, "now", "--storage", store, "--target", "big", "--pod", ns.Name+"/redis-0").ok(t)
		change(t, src)
		live = src.Digest(t)
		bigArgs := append([]string{}, args...)
		bigArgs[1] = big
		bigArgs = append(bigArgs, "--from-target", "big")
		cmd, stderr, pod := startUntilRestorePod(t, ns, bigArgs, true)
		// Kill it once the staged file is being written. The stream may
		// still end before the kubelet stops the pod, but the pod is gone
		// from the API by then, so the swap never starts: either way the
		// live data is unchanged.
		staged := restore.Staged(restore.Install{Dir: pv.Spec.Local.Path, DBFilename: "dump.rdb"})[0]
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
			if fi, err := os.Stat(staged); err == nil && fi.Size() > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s was not written within a minute", staged)
			}
		}
		killRestorePod(t, ns, cmd, stderr, pod, "live data is unchanged")
		unchanged(t)
	})
	t.Run("restore pod gone before the swap", func(t *testing.T) {
		// The offline strategy scales Redis down before the swap, which
		// gives time to delete the restore pod: the swap's exec is refused,
		// so nothing was swapped in and Redis comes back on its data.
		cmd, stderr, pod := startUntilRestorePod(t, ns, append(args, "--strategy", "offline"), true)
		for deadline := time.Now().Add(time.Minute); !strings.Contains(stderr.String(), "step=stop"); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the restore did not reach its stop step within a minute:\n%s", stderr.String())
			}
		}
		killRestorePod(t, ns, cmd, stderr, pod, "install the staged backup (the live data is unchanged)")
		unchanged(t)
	})
	t.Run("interrupted while the restore pod runs", func(t *testing.T) {
		cmd, stderr, _ := startUntilRestorePod(t, ns, args, false)
		_ = cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 130 {
			t.Fatalf("exit %d (%v), want 130; stderr:\n%s", code, err, stderr.String())
		}
		unchanged(t)
		l, _ := ns.Clientset.CoreV1().Pods(ns.Name).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=restore"})
		if len(l.Items) != 0 {
			t.Errorf("restore pod left behind: %s", l.Items[0].Name)
		}
	})
}

// TestRestoreServesWhileStaging: the restore stages the backup beside the
// live data while Redis keeps serving: a client reading a key while the
// staged file exists gets the live value, and the restore then brings the
// backed-up value. (Before, Redis was stopped first and the file was
// written after: no read could succeed with a file staged.)
func TestRestoreServesWhileStaging(t *testing.T) {
	ns := testcluster.New(t)
	ns.LocalPV(t, "exchange-redis-data", "1Gi")
	m, _ := manifestOn(ns, t, exchangeRedis, exchangeServer)
	ns.Apply(t, m)
	d := ns.WaitDeployment(t, "exchange-redis")
	before := ns.PodsOf(t, d.Spec.Selector)[0]
	pod := before.Name
	src := redisIn(t, ns, pod, "")
	c := src.Client(t)
	// 128 MiB of random values keep the stream going for a while.
	blob := make([]byte, 1<<20)
	for i := 0; i < 128; i++ {
		rand.Read(blob)
		if err := c.Set(t.Context(), fmt.Sprintf("blob:%d", i), blob, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Set(t.Context(), "marker", "backed-up", 0).Err(); err != nil {
		t.Fatal(err)
	}
	want := src.Digest(t)
	store := "file://" + t.TempDir()
	dep := []string{"--deployment", ns.Name + "/exchange-redis"}
	rdbak(t, ns, nil, append([]string{"now", "--storage", store, "--target", "app"}, dep...)...).ok(t)
	// The value is short enough to be stored uncompressed in an RDB.
	const live = "live-before-restore"
	if err := c.Set(t.Context(), "marker", live, 0).Err(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(t.Context(), rdbakBin, append([]string{"restore", "latest", "--storage", store, "--target", "app", "--yes", "--restore-image", restoreImage(t)}, dep...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig(ns))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	staged := func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		return ns.Exec(ctx, pod, []string{"sh", "-c", "[ -e /data/dump.rdb.rdbak-tmp ]"}, testcluster.ExecOptions{Stdout: io.Discard, Stderr: io.Discard}) == nil
	}
	seen := 0
	var runErr error
loop:
	for {
		select {
		case runErr = <-done:
			break loop
		default:
		}
		got, err := c.Get(t.Context(), "marker").Result()
		if err != nil || !staged() {
			continue // Redis stopped for the swap, or nothing staged yet
		}
		// Redis answered, and the file was staged after: it served while
		// the backup was staged.
		if got != live {
			t.Fatalf("with the backup staged, GET marker = %q; want the live value", got)
		}
		seen++
	}
	if runErr != nil {
		t.Fatalf("restore: %v\n%s", runErr, stderr.String())
	}
	if seen == 0 {
		t.Fatalf("never saw the staged file while reading; rdbak said:\n%s", stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "downtime") {
		t.Errorf("the result does not give the downtime:\n%s", out)
	}
	// The restart strategy restarts the container, not the pod.
	after := ns.PodsOf(t, d.Spec.Selector)
	if len(after) != 1 || after[0].UID != before.UID || after[0].Status.ContainerStatuses[0].RestartCount <= before.Status.ContainerStatuses[0].RestartCount {
		t.Errorf("Redis was not restarted in its pod %s: %d pods after the restore", pod, len(after))
	}
	if got := redisIn(t, ns, pod, "").Digest(t); got != want {
		t.Fatalf("after restore digest %s, want the backup's %s", got, want)
	}
	// The BGSAVE that ran beside the staging kept the data replaced.
	if n := runRedis(t, ns, pod, "grep", "-c", live, "/data/dump.rdb.pre-restore"); strings.TrimSpace(n) == "0" {
		t.Errorf("dump.rdb.pre-restore lacks the value written before the restore")
	}
	t.Logf("%d reads of the live value while the backup was staged; %s", seen, strings.TrimSpace(out))
}
