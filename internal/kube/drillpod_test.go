package kube

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/kubeapi/kubeapitest"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// targetPod is a Bitnami-style Redis pod: a PVC, a ServiceAccount, a node
// selector, resource limits and load-relevant arguments.
func targetPod() *corev1.Pod {
	p := readyPod("redis-master-0", map[string]string{"app.kubernetes.io/instance": "redis"})
	res := corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi"), corev1.ResourceCPU: resource.MustParse("500m")},
		Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
	}
	p.Spec = corev1.PodSpec{
		ServiceAccountName: "redis",
		NodeSelector:       map[string]string{"disk": "ssd"},
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "regcred"}},
		Containers: []corev1.Container{
			{Name: "metrics", Image: "exporter:1"},
			{
				Name: "redis", Image: "registry.local/bitnami/redis:7.4.1", ImagePullPolicy: corev1.PullIfNotPresent,
				Command:      []string{"/opt/bitnami/scripts/start-scripts/start-master.sh"},
				Args:         []string{"--maxmemory", "100mb", "--loadmodule", "/opt/m.so", "a b", "--appendonly", "yes"},
				Resources:    res,
				Ports:        []corev1.ContainerPort{{Name: "redis", ContainerPort: 6379}},
				VolumeMounts: []corev1.VolumeMount{{Name: "redis-data", MountPath: "/data"}},
			},
		},
		Volumes: []corev1.Volume{{Name: "redis-data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "redis-data-redis-master-0"}}}},
	}
	return p
}

func TestDrillPod(t *testing.T) {
	src := targetPod()
	p, err := DrillPod(src, "redis", DrillPodOptions{Target: "cache", Databases: 20, Timeout: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if p.Namespace != testNS || p.GenerateName != "rdbak-drill-cache-" {
		t.Errorf("namespace/generateName = %s/%s", p.Namespace, p.GenerateName)
	}
	if p.Labels[LabelDrillScratch] != "true" || p.Labels[LabelDrillTarget] != "cache" {
		t.Errorf("labels = %v", p.Labels)
	}
	s := p.Spec
	if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken || s.ServiceAccountName != "" {
		t.Errorf("the scratch pod must get no ServiceAccount token: automount %v, account %q", s.AutomountServiceAccountToken, s.ServiceAccountName)
	}
	if s.RestartPolicy != corev1.RestartPolicyNever || s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != 1800 {
		t.Errorf("restartPolicy %s, activeDeadlineSeconds %v", s.RestartPolicy, s.ActiveDeadlineSeconds)
	}
	if s.NodeSelector != nil || !slices.Equal(s.ImagePullSecrets, src.Spec.ImagePullSecrets) {
		t.Errorf("nodeSelector %v, imagePullSecrets %v", s.NodeSelector, s.ImagePullSecrets)
	}
	if len(s.Volumes) != 1 || s.Volumes[0].EmptyDir == nil || s.Volumes[0].PersistentVolumeClaim != nil {
		t.Errorf("volumes = %+v, want one emptyDir and no PVC", s.Volumes)
	}
	if len(s.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(s.Containers))
	}
	c := s.Containers[0]
	want := src.Spec.Containers[1]
	if c.Image != want.Image || c.ImagePullPolicy != want.ImagePullPolicy || len(c.Ports) != 0 {
		t.Errorf("image %s (%s), ports %v", c.Image, c.ImagePullPolicy, c.Ports)
	}
	if !equality(c.Resources, want.Resources) {
		t.Errorf("resources = %+v, want the target's %+v", c.Resources, want.Resources)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != "data" || c.VolumeMounts[0].MountPath != drillDir {
		t.Errorf("mounts = %+v", c.VolumeMounts)
	}
	if len(c.Command) != 3 || c.Command[0] != "sh" {
		t.Fatalf("command = %q", c.Command)
	}
	script := c.Command[2]
	for _, w := range []string{"while [ ! -f /rdbak-drill/dump.rdb ]", "exec redis-server --dir /rdbak-drill --dbfilename dump.rdb --save '' --appendonly no",
		"--bind 127.0.0.1", "--databases 20", "--maxmemory '100mb'", "--loadmodule '/opt/m.so' 'a b'"} {
		if !strings.Contains(script, w) {
			t.Errorf("script %q lacks %q", script, w)
		}
	}
	if strings.Contains(script, "yes") || strings.Contains(script, "start-master") {
		t.Errorf("script %q keeps the target's persistence or entrypoint", script)
	}
	if _, err := DrillPod(src, "nope", DrillPodOptions{}); err == nil || !strings.Contains(err.Error(), `no container "nope"`) {
		t.Errorf("unknown container: %v", err)
	}
}

func equality(a, b corev1.ResourceRequirements) bool {
	eq := func(x, y corev1.ResourceList) bool {
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || v.Cmp(w) != 0 {
				return false
			}
		}
		return true
	}
	return eq(a.Limits, b.Limits) && eq(a.Requests, b.Requests)
}

// generateNames makes the fake clientset name pods as the API server does.
func generateNames(cs *fake.Clientset) {
	n := 0
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			n++
			p.Name = p.GenerateName + string(rune('a'+n))
		}
		return false, nil, nil
	})
}

func TestDrillPodLifecycle(t *testing.T) {
	old := metav1.NewTime(time.Now().Add(-2 * time.Hour))
	leftover := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "rdbak-drill-x", Namespace: testNS, CreationTimestamp: old, Labels: map[string]string{LabelDrillScratch: "true"}}}
	young := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "rdbak-drill-y", Namespace: testNS, CreationTimestamp: metav1.Now(), Labels: map[string]string{LabelDrillScratch: "true"}}}
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: testNS, CreationTimestamp: old}}
	cs := fake.NewClientset(leftover, young, other)
	generateNames(cs)
	ex := &fakeExec{}
	c := &Client{API: kubeapitest.Wrap(cs), Executor: ex, PollInterval: time.Millisecond}
	p, err := DrillPod(targetPod(), "redis", DrillPodOptions{Target: "cache"})
	if err != nil {
		t.Fatal(err)
	}
	scr, err := c.StartDrillPod(t.Context(), p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := cs.CoreV1().Pods(testNS).List(t.Context(), metav1.ListOptions{})
	var got []string
	for _, p := range list.Items {
		got = append(got, p.Name)
	}
	slices.Sort(got)
	if want := []string{"rdbak-drill-cache-b", "rdbak-drill-y", "web"}; !slices.Equal(got, want) {
		t.Errorf("pods = %v, want %v: only scratch pods older than the timeout are collected", got, want)
	}

	// The image cannot be pulled: WaitRunning says so, and Delete
	// removes the pod all the same.
	created, _ := cs.CoreV1().Pods(testNS).Get(t.Context(), scr.Name, metav1.GetOptions{})
	created.Status = corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "redis",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"}}}}}
	if _, err := cs.CoreV1().Pods(testNS).UpdateStatus(t.Context(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := scr.WaitRunning(t.Context()); err == nil || !strings.Contains(err.Error(), "ErrImagePull: not found") {
		t.Errorf("WaitRunning = %v, want the pull error", err)
	}
	if err := scr.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods(testNS).Get(t.Context(), scr.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("scratch pod after Delete: %v, want not found", err)
	}
	if err := scr.Delete(); err != nil {
		t.Errorf("a second Delete: %v, want nil (already gone)", err)
	}
}

func TestDrillPodExitAndStream(t *testing.T) {
	cs := fake.NewClientset()
	generateNames(cs)
	ex := &fakeExec{}
	c := &Client{API: kubeapitest.Wrap(cs), Executor: ex, PollInterval: time.Millisecond}
	p, _ := DrillPod(targetPod(), "redis", DrillPodOptions{Target: "cache"})
	scr, err := c.StartDrillPod(t.Context(), p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer scr.Delete()
	if err := scr.StreamFile(t.Context(), strings.NewReader("REDIS0011")); err != nil {
		t.Fatal(err)
	}
	if len(ex.calls) != 1 || ex.calls[0].stdin != "REDIS0011" || ex.calls[0].target.Pod != scr.Name || ex.calls[0].target.Container != "redis" {
		t.Fatalf("exec calls = %+v", ex.calls)
	}
	if cmd := strings.Join(ex.calls[0].cmd, " "); !strings.Contains(cmd, "cat > /rdbak-drill/.dump.rdb.part && mv /rdbak-drill/.dump.rdb.part /rdbak-drill/dump.rdb") {
		t.Errorf("stream command = %q", cmd)
	}
	if err := scr.ExitError(t.Context()); err != nil {
		t.Errorf("ExitError of a pod that runs: %v", err)
	}
	got, _ := cs.CoreV1().Pods(testNS).Get(t.Context(), scr.Name, metav1.GetOptions{})
	got.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "redis", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}}
	if _, err := cs.CoreV1().Pods(testNS).UpdateStatus(t.Context(), got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = scr.ExitError(t.Context())
	if !errors.Is(err, ErrScratchExited) || !strings.Contains(err.Error(), "exit code 1") {
		t.Errorf("ExitError = %v, want ErrScratchExited with the exit code", err)
	}
	if _, err := scr.WaitRunning(t.Context()); !errors.Is(err, ErrScratchExited) {
		t.Errorf("WaitRunning of an exited pod = %v", err)
	}
}

func TestDrillPermissions(t *testing.T) {
	need := DrillPermissions(testNS, Spec{HelmRelease: "redis"})
	for _, p := range []Permission{
		{Resource: "pods", Verb: "create", Namespace: testNS},
		{Resource: "pods", Verb: "delete", Namespace: testNS},
		{Resource: "pods", Subresource: "exec", Verb: "create", Namespace: testNS},
		{Resource: "pods", Subresource: "portforward", Verb: "create", Namespace: testNS},
	} {
		if !slices.Contains(need, p) {
			t.Errorf("DrillPermissions lacks %s", p)
		}
	}
	cs := fake.NewClientset()
	var held []Permission
	for _, p := range need {
		if p.Verb != "create" || p.Subresource != "" {
			held = append(held, p)
		}
	}
	allowOnly(cs, held...)
	err := (&Client{API: kubeapitest.Wrap(cs)}).Check(t.Context(), need)
	if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), `resources: ["pods"]`) || !strings.Contains(err.Error(), `verbs: ["create"]`) {
		t.Errorf("Check = %v, want the missing create pods with its rule", err)
	}
}
