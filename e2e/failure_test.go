//go:build e2e

package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/internal/testcluster"
)

const notReadyPod = `
apiVersion: v1
kind: Pod
metadata: {name: notready, labels: {app: notready}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: redis
    image: %[1]s
    imagePullPolicy: Never
    command: [redis-server, --save, "", %[2]s]
    ports: [{containerPort: 6379}]
    readinessProbe: {exec: {command: ["false"]}, periodSeconds: 1}
`

// TestBackupRefusals: every way a target can be wrong is a clear error and
// stores nothing.
func TestBackupRefusals(t *testing.T) {
	ns := testcluster.New(t)
	ns.LocalPV(t, "data-redis-0", "1Gi")
	ns.Apply(t, manifest(ns, t, statefulRedis))
	ns.Apply(t, manifest(ns, t, notReadyPod))
	ns.WaitStatefulSet(t, "redis")
	ns.WaitPod(t, "notready", "running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	tests := []struct {
		name string
		args []string
		says []string
	}{
		{"data file missing", []string{"--pod", ns.Name + "/redis-0", "--dbfilename", "missing.rdb"}, []string{"cannot open /data/missing.rdb"}},
		{"pod not ready", []string{"--pod", ns.Name + "/notready"}, []string{"not Ready"}},
		{"selector matches nothing", []string{"-n", ns.Name, "--selector", "app=nothing", "--target", "x"}, []string{"matches no pods"}},
		{"no such statefulset", []string{"--statefulset", ns.Name + "/nope"}, []string{"does not exist"}},
		{"no such secret", []string{"--pod", ns.Name + "/redis-0", "--password-secret", "nope/key"}, []string{"secret " + ns.Name + "/nope does not exist"}},
		{"no such container", []string{"--pod", ns.Name + "/redis-0", "--container", "nope"}, []string{`no container "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := t.TempDir()
			rdbak(t, ns, nil, append([]string{"now", "--storage", "file://" + store}, tt.args...)...).fails(t, 1, tt.says...)
			assertNothingStored(t, ns, store)
		})
	}
}

const narrowRBAC = `
apiVersion: v1
kind: ServiceAccount
metadata: {name: narrow}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: narrow}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: narrow}
subjects: [{kind: ServiceAccount, name: narrow}]
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: narrow}
`

// TestBackupMissingRBAC runs rdbak as a ServiceAccount that may only read
// pods: it must name exactly the missing permissions, with the Role rules
// that grant them, before touching Redis.
func TestBackupMissingRBAC(t *testing.T) {
	ns := testcluster.New(t)
	ns.LocalPV(t, "data-redis-0", "1Gi")
	ns.Apply(t, manifest(ns, t, statefulRedis))
	ns.Apply(t, narrowRBAC)
	ns.WaitStatefulSet(t, "redis")
	kc := saKubeconfig(t, ns, "narrow")
	store := t.TempDir()
	r := rdbak(t, ns, []string{"KUBECONFIG=" + kc}, "now", "--storage", "file://"+store, "--pod", ns.Name+"/redis-0")
	r.fails(t, 1, "missing Kubernetes permissions",
		"create pods/exec in namespace "+ns.Name, "get pods/exec in namespace "+ns.Name,
		"create pods/portforward in namespace "+ns.Name, `resources: ["pods/exec"]`)
	assertNothingStored(t, ns, store)
	// What it may do, it is not told it lacks.
	if r.code == 1 && strings.Contains(r.stderr, "list pods in namespace") {
		t.Errorf("the error lists a permission the ServiceAccount has:\n%s", r.stderr)
	}
}

// saKubeconfig writes a kubeconfig that authenticates as ServiceAccount sa.
func saKubeconfig(t *testing.T, ns *testcluster.Namespace, sa string) string {
	t.Helper()
	exp := int64(3600)
	tok, err := ns.Clientset.CoreV1().ServiceAccounts(ns.Name).CreateToken(t.Context(), sa,
		&authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", sa, err)
	}
	ca := ns.Config.CAData
	if len(ca) == 0 && ns.Config.CAFile != "" {
		if ca, err = os.ReadFile(ns.Config.CAFile); err != nil {
			t.Fatal(err)
		}
	}
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: testbed, cluster: {server: %q, certificate-authority-data: %s}}]
users: [{name: %s, user: {token: %q}}]
contexts: [{name: sa, context: {cluster: testbed, user: %s, namespace: %s}}]
current-context: sa
`, ns.Config.Host, base64.StdEncoding.EncodeToString(ca), sa, tok.Status.Token, sa, ns.Name)
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
