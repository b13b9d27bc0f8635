//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
)

// probe and debug settings every Redis of these tests shares. DEBUG DIGEST
// needs enable-debug-command on Redis 7.
const redisArgs = `--protected-mode, "no", --enable-debug-command, "yes"`

// redis6Args are redisArgs for Redis 6, which has DEBUG on and refuses
// enable-debug-command, a 7.0 option.
const redis6Args = `--protected-mode, "no"`

// The servers the seed shapes run on: the builds here nearest to the images
// the seeds run (hack/deps.sh builds them, the testbed has their images).
const (
	// exchangeServer: the field's exchange-redis runs redis:6.2-alpine.
	exchangeServer = "redis-6.2.16"
	// bitnamiServer: the Bitnami chart's Redis is 8.2.1.
	bitnamiServer = "redis-7.4.1"
)

// exchangeRedis is the field's "exchange-redis": a Deployment with a PVC
// mounted at /data through subPath redis-data, default save points, as the
// redis:6.2-alpine image runs it.
const exchangeRedis = `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: exchange-redis-data}
spec: {accessModes: [ReadWriteOnce], storageClassName: local, resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: exchange-redis}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: exchange-redis}}
  template:
    metadata: {labels: {app: exchange-redis}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: redis
        image: %[1]s
        imagePullPolicy: Never
        command: [redis-server, --dir, /data, %[2]s]
        ports: [{containerPort: 6379}]
        readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 1}
        volumeMounts: [{name: data, mountPath: /data, subPath: redis-data}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: exchange-redis-data}}]
`

// cacheRedis is a 2-replica Deployment without a volume: two independent
// servers. A sidecar listed first makes rdbak find the container by port.
const cacheRedis = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: cache}
spec:
  replicas: 2
  selector: {matchLabels: {app: cache}}
  template:
    metadata: {labels: {app: cache}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: sidecar
        image: %[1]s
        imagePullPolicy: Never
        command: [sh, -c, "exec sleep 100000"]
      - name: redis
        image: %[1]s
        imagePullPolicy: Never
        command: [redis-server, --save, "", %[2]s]
        ports: [{containerPort: 6379, name: redis}]
        readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 1}
`

// statefulRedis is a StatefulSet with a PVC per pod.
const statefulRedis = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis}
spec:
  serviceName: redis
  replicas: 1
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: redis
        image: %[1]s
        imagePullPolicy: Never
        command: [redis-server, --dir, /data, --save, "", %[2]s]
        ports: [{containerPort: 6379, name: redis}]
        readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 1}
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], storageClassName: local, resources: {requests: {storage: 1Gi}}}
`

// statefulRedisUp runs statefulRedis in ns on a local volume and waits
// until redis-0 is ready; it returns the volume.
func statefulRedisUp(t *testing.T, ns *testcluster.Namespace) *corev1.PersistentVolume {
	t.Helper()
	pv := ns.LocalPV(t, "data-redis-0", "1Gi")
	ns.Apply(t, manifest(ns, t, statefulRedis))
	ns.WaitStatefulSet(t, "redis")
	return pv
}

// bitnamiRedis mimics the Bitnami chart's master: release labels, the
// password from one key of a shared Secret, data in /bitnami/redis/data,
// appendonly yes and save "".
const bitnamiRedis = `
apiVersion: v1
kind: Secret
metadata: {name: urbalurba-secrets}
stringData: {REDIS_PASSWORD: "p@ss w0rd", OTHER_SERVICE_TOKEN: not-the-redis-password}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: redis-master
  labels: {app.kubernetes.io/instance: redis, app.kubernetes.io/component: master, app.kubernetes.io/name: redis}
spec:
  serviceName: redis-headless
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/instance: redis, app.kubernetes.io/component: master, app.kubernetes.io/name: redis}}
  template:
    metadata: {labels: {app.kubernetes.io/instance: redis, app.kubernetes.io/component: master, app.kubernetes.io/name: redis}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: redis
        image: %[1]s
        imagePullPolicy: Never
        env:
        - name: REDIS_PASSWORD
          valueFrom: {secretKeyRef: {name: urbalurba-secrets, key: REDIS_PASSWORD}}
        command: [sh, -c, 'exec redis-server --dir /bitnami/redis/data --requirepass "$REDIS_PASSWORD" --appendonly yes --save "" --protected-mode no --enable-debug-command yes']
        ports: [{containerPort: 6379, name: redis}]
        readinessProbe: {exec: {command: [sh, -c, 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping | grep -q PONG']}, periodSeconds: 1}
        volumeMounts: [{name: redis-data, mountPath: /bitnami/redis/data}]
  volumeClaimTemplates:
  - metadata: {name: redis-data}
    spec: {accessModes: [ReadWriteOnce], storageClassName: local, resources: {requests: {storage: 1Gi}}}
`

func manifest(ns *testcluster.Namespace, t *testing.T, tmpl string) string {
	return fmt.Sprintf(tmpl, ns.RedisImage(t), redisArgs)
}

// manifestOn is manifest on the Redis or Valkey server called name
// (testenv's Server.Name): its testbed image and the flags it knows. It
// returns the server too, whose local binary loads the shape's backups: an
// RDB loads only into its own version or a newer one.
func manifestOn(ns *testcluster.Namespace, t *testing.T, tmpl, name string) (string, testenv.Server) {
	t.Helper()
	srv := testenv.NeedServer(t, name)
	args := redisArgs
	if !srv.AtLeast(7, 0) {
		args = redis6Args
	}
	return fmt.Sprintf(tmpl, ns.ServerImage(t, name), args), srv
}

// backupShape backs up with args, then proves the stored backup verifies
// and restores to the digest of the source.
func backupShape(t *testing.T, ns *testcluster.Namespace, src *testenv.Redis, args ...string) {
	t.Helper()
	testenv.FillAllTypes(t, src, 1)
	want := src.Digest(t)
	store := "file://" + t.TempDir()
	id := rdbak(t, ns, nil, append([]string{"now", "--storage", store}, args...)...).ok(t)
	if got := restoredDigestOn(t, ns, src.Server, store, id); got != want {
		t.Fatalf("restored digest %s, the pod's %s", got, want)
	}
	ms := backups(t, ns, store)
	if len(ms) != 1 || !strings.HasPrefix(ms[0].Source.Origin, "file pod "+ns.Name+"/") && !strings.HasPrefix(ms[0].Source.Origin, "replication pod "+ns.Name+"/") {
		t.Fatalf("manifest source = %+v, want the pod named", ms)
	}
	if src.Server.Name != "" && (ms[0].Redis.Version != src.Server.VersionString() || ms[0].RDB.Version != src.Server.RDBVersion()) {
		t.Errorf("manifest says Redis %s, RDB %d; the pod runs %s, which writes RDB %d",
			ms[0].Redis.Version, ms[0].RDB.Version, src.Server.Name, src.Server.RDBVersion())
	}
}

func TestBackupDeploymentWithSubPath(t *testing.T) {
	ns := testcluster.New(t)
	pv := ns.LocalPV(t, "exchange-redis-data", "1Gi")
	m, srv := manifestOn(ns, t, exchangeRedis, exchangeServer)
	ns.Apply(t, m)
	d := ns.WaitDeployment(t, "exchange-redis")
	pods := ns.PodsOf(t, d.Spec.Selector)
	backupShape(t, ns, redisOn(t, ns, pods[0].Name, "", srv), "--deployment", ns.Name+"/exchange-redis")
	// The dump landed in the volume's subPath, through the pod's own view.
	if _, err := os.Stat(filepath.Join(pv.Spec.Local.Path, "redis-data", "dump.rdb")); err != nil {
		t.Errorf("dump.rdb is not in the PVC's redis-data subPath: %v", err)
	}
}

func TestBackupTwoReplicaDeploymentWithoutVolume(t *testing.T) {
	ns := testcluster.New(t)
	ns.Apply(t, manifest(ns, t, cacheRedis))
	d := ns.WaitDeployment(t, "cache")
	pods := ns.PodsOf(t, d.Spec.Selector)
	if len(pods) != 2 {
		t.Fatalf("cache has %d pods, want 2", len(pods))
	}
	// Two independent servers: the Deployment alone does not say which.
	store := t.TempDir()
	rdbak(t, ns, nil, "now", "--storage", "file://"+store, "--deployment", ns.Name+"/cache").
		fails(t, 1, "2 independent Redis masters", "--pod")
	assertNothingStored(t, ns, store)
	// Each pod is its own target; the redis container is found by port.
	for _, p := range pods {
		t.Run(p.Name, func(t *testing.T) {
			backupShape(t, ns, redisIn(t, ns, p.Name, ""), "--pod", ns.Name+"/"+p.Name, "--target", p.Name)
		})
	}
}

func TestBackupStatefulSet(t *testing.T) {
	ns := testcluster.New(t)
	statefulRedisUp(t, ns)
	src := redisIn(t, ns, "redis-0", "")
	t.Run("exec", func(t *testing.T) {
		backupShape(t, ns, src, "-n", ns.Name, "--statefulset", "redis")
		// The outcome is an Event on the StatefulSet.
		evs, err := ns.Clientset.CoreV1().Events(ns.Name).List(t.Context(), metav1.ListOptions{FieldSelector: "involvedObject.kind=StatefulSet,involvedObject.name=redis,reason=BackupSucceeded"})
		if err != nil || len(evs.Items) == 0 {
			t.Fatalf("no BackupSucceeded event on the statefulset (%v)", err)
		}
	})
	t.Run("replication over port-forward", func(t *testing.T) {
		backupShape(t, ns, src, "--statefulset", ns.Name+"/redis", "--source", "replication")
	})
	t.Run("pod IP", func(t *testing.T) {
		backupShape(t, ns, src, "--pod", ns.Name+"/redis-0", "--access", "pod-ip")
	})
}

func TestBackupBitnamiStyle(t *testing.T) {
	ns := testcluster.New(t)
	ns.LocalPV(t, "redis-data-redis-master-0", "1Gi")
	m, srv := manifestOn(ns, t, bitnamiRedis, bitnamiServer)
	ns.Apply(t, m)
	ns.WaitStatefulSet(t, "redis-master")
	src := redisOn(t, ns, "redis-master-0", "p@ss w0rd", srv)
	backupShape(t, ns, src, "-n", ns.Name, "--helm-release", "redis", "--password-secret", "urbalurba-secrets/REDIS_PASSWORD")

	// The same from a config file, as the example writes it.
	cfg := filepath.Join(t.TempDir(), "rdbak.yaml")
	store := t.TempDir()
	body := fmt.Sprintf(`storage: file://%s
targets:
  - name: sessions
    kubernetes: {namespace: %s, statefulset: redis-master, container: redis, passwordSecret: {name: urbalurba-secrets, key: REDIS_PASSWORD}}
`, store, ns.Name)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	id := rdbak(t, ns, nil, "now", "--config", cfg).ok(t)
	if got, want := restoredDigestOn(t, ns, srv, "file://"+store, id), src.Digest(t); got != want {
		t.Fatalf("config target: restored digest %s, want %s", got, want)
	}

	// A wrong key of the shared Secret is a wrong password: clear error, nothing stored.
	bad := t.TempDir()
	rdbak(t, ns, nil, "now", "--storage", "file://"+bad, "-n", ns.Name, "--helm-release", "redis",
		"--password-secret", "urbalurba-secrets/OTHER_SERVICE_TOKEN").fails(t, 1, "WRONGPASS")
	assertNothingStored(t, ns, bad)
}

func TestBackupS3FromLaptop(t *testing.T) {
	ns := testcluster.New(t)
	statefulRedisUp(t, ns)
	src := redisIn(t, ns, "redis-0", "")
	testenv.FillAllTypes(t, src, 1)
	minio := testenv.StartMinIO(t)
	store := strings.Replace(minio.URL, "s3://"+minio.Bucket, "s3://"+minio.Bucket+"/prod", 1)
	id := rdbak(t, ns, minio.Env, "now", "--pod", ns.Name+"/redis-0", "--storage", store).ok(t)
	if got, want := restoredDigest(t, ns, store, id, minio.Env...), src.Digest(t); got != want {
		t.Fatalf("restored digest %s, want %s", got, want)
	}
}
