package kube

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/kubeapi/kubeapitest"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rdbak/rdbak/restore"
)

// testNS is the namespace of every object in these tests.
const testNS = "prod"

// readyPod returns a Running, Ready pod in testNS.
func readyPod(name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, Labels: labels},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
}

// crashingPod's container redis is in CrashLoopBackOff.
func crashingPod(name string, labels map[string]string) *corev1.Pod {
	p := notReadyPod(name, labels)
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:                 "redis",
		RestartCount:         4,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}},
	}}
	return p
}

func notReadyPod(name string, labels map[string]string) *corev1.Pod {
	p := readyPod(name, labels)
	p.Status.Conditions[0].Status = corev1.ConditionFalse
	return p
}

// terminatingPod is still Ready but being deleted.
func terminatingPod(name string, labels map[string]string) *corev1.Pod {
	p := readyPod(name, labels)
	now := metav1.Now()
	p.DeletionTimestamp = &now
	p.Finalizers = []string{"test/keep"}
	return p
}

// controlled makes kind/name the controller of obj.
func controlled[T metav1.Object](obj T, kind, name string) T {
	yes := true
	obj.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: name, Controller: &yes}})
	return obj
}

func statefulSet(name string, replicas int32, labels map[string]string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS},
		Spec:       appsv1.StatefulSetSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
}

func deployment(name string, replicas int32, labels map[string]string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels}},
	}
}

// interruptedRestore gives w the annotation a restore that scaled it down
// leaves when it is killed.
func interruptedRestore[T metav1.Object](w T, replicas string) T {
	w.SetAnnotations(map[string]string{RestoreReplicasAnnotation: replicas})
	return w
}

func replicaSet(name string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS}}
}

// allowOnly answers every SelfSubjectAccessReview: allowed exactly when
// the permission is in allowed. It returns the permissions asked, in order.
func allowOnly(cs *fake.Clientset, allowed ...Permission) *[]Permission {
	var asked []Permission
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authv1.SelfSubjectAccessReview).DeepCopy()
		ra := r.Spec.ResourceAttributes
		p := Permission{Group: ra.Group, Resource: ra.Resource, Subresource: ra.Subresource, Verb: ra.Verb, Namespace: ra.Namespace, Name: ra.Name}
		asked = append(asked, p)
		r.Status.Allowed = slices.Contains(allowed, p)
		return true, r, nil
	})
	return &asked
}

func names(ps []corev1.Pod) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestCandidates(t *testing.T) {
	redis := map[string]string{"app": "redis"}
	cache := map[string]string{"app": "cache"}
	down := map[string]string{"state": "down"}
	master := map[string]string{"app.kubernetes.io/instance": "rel", "app.kubernetes.io/component": "master"}
	replica := map[string]string{"app.kubernetes.io/instance": "rel", "app.kubernetes.io/component": "replica"}
	objs := []runtime.Object{
		statefulSet("redis", 3, redis),
		statefulSet("empty", 1, map[string]string{"app": "none"}),
		deployment("cache", 1, cache),
		// Scaled to 0 by a restore that was killed.
		interruptedRestore(statefulSet("halted", 0, map[string]string{"app": "halted"}), "3"),
		interruptedRestore(deployment("halted-deploy", 0, map[string]string{"app": "halted-deploy"}), "1"),
		// Created out of order: Candidates sorts.
		readyPod("redis-2", redis), readyPod("redis-0", redis), readyPod("redis-1", redis),
		notReadyPod("redis-3", redis), terminatingPod("redis-4", redis),
		notReadyPod("cache-b", cache), readyPod("cache-a", cache),
		readyPod("rel-master-0", master), readyPod("rel-replicas-1", replica), readyPod("rel-replicas-0", replica),
		readyPod("solo", nil), notReadyPod("sick", down), terminatingPod("dying", down),
		crashingPod("crashing-0", map[string]string{"app": "crashing"}),
	}
	tests := []struct {
		name    string
		spec    Spec
		want    []string
		wantErr []string // all in the error, which must be ErrNoTarget
	}{
		{name: "pod", spec: Spec{Pod: "solo"}, want: []string{"solo"}},
		{name: "pod not ready", spec: Spec{Pod: "sick"}, wantErr: []string{"pod prod/sick is not Ready", "not ready"}},
		{name: "pod terminating", spec: Spec{Pod: "dying"}, wantErr: []string{"pod prod/dying is not Ready", "terminating"}},
		{name: "pod missing", spec: Spec{Pod: "nope"}, wantErr: []string{"pod prod/nope does not exist"}},
		{name: "statefulset", spec: Spec{StatefulSet: "redis"}, want: []string{"redis-0", "redis-1", "redis-2"}},
		{name: "statefulset missing", spec: Spec{StatefulSet: "nope"}, wantErr: []string{"statefulset prod/nope does not exist"}},
		{name: "statefulset without pods", spec: Spec{StatefulSet: "empty"}, wantErr: []string{"statefulset prod/empty matches no pods"}},
		{name: "deployment", spec: Spec{Deployment: "cache"}, want: []string{"cache-a"}},
		{name: "statefulset left at 0 by a restore", spec: Spec{StatefulSet: "halted"}, wantErr: []string{
			"statefulset prod/halted matches no pods", "did not finish", "rdbak.io/restore-replicas=3",
			"kubectl -n prod scale statefulset/halted --replicas=3", "kubectl -n prod annotate statefulset/halted rdbak.io/restore-replicas-"}},
		{name: "deployment left at 0 by a restore", spec: Spec{Deployment: "halted-deploy"}, wantErr: []string{
			"kubectl -n prod scale deployment/halted-deploy --replicas=1", "kubectl -n prod delete pod -l app.kubernetes.io/component=restore"}},
		{name: "deployment missing", spec: Spec{Deployment: "nope"}, wantErr: []string{"deployment prod/nope does not exist"}},
		{name: "selector", spec: Spec{Selector: "app=redis"}, want: []string{"redis-0", "redis-1", "redis-2"}},
		{name: "selector matches nothing", spec: Spec{Selector: "app=none"}, wantErr: []string{"pods in prod matching app=none matches no pods"}},
		{name: "nothing ready", spec: Spec{Selector: "state=down"}, wantErr: []string{"is Ready", "sick (Running, not ready)", "dying (terminating)"}},
		{name: "pod crashing", spec: Spec{Pod: "crashing-0"}, wantErr: []string{
			"CrashLoopBackOff, last exit code 1 (Error), 4 restarts", "kubectl -n prod logs crashing-0 -c redis --previous", "move the file aside", "dr-lost-pvc.md"}},
		{name: "nothing ready, crashing", spec: Spec{Selector: "app=crashing"}, wantErr: []string{
			"crashing-0 (Running, not ready; container redis: CrashLoopBackOff", "Redis keeps failing to start"}},
		{name: "helm release is its master", spec: Spec{HelmRelease: "rel"}, want: []string{"rel-master-0"}},
		{name: "helm release replicas", spec: Spec{HelmRelease: "rel", Component: "replica"}, want: []string{"rel-replicas-0", "rel-replicas-1"}},
		{name: "helm release missing", spec: Spec{HelmRelease: "gone"}, wantErr: []string{"helm release prod/gone matches no pods"}},
	}
	cs := fake.NewClientset(objs...)
	// List in reverse name order: Candidates must sort.
	cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj, err := cs.Tracker().List(a.GetResource(), corev1.SchemeGroupVersion.WithKind("Pod"), a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		l := obj.(*corev1.PodList)
		slices.SortFunc(l.Items, func(a, b corev1.Pod) int { return strings.Compare(b.Name, a.Name) })
		return true, l, nil
	})
	c := &Client{API: kubeapitest.Wrap(cs)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Namespace = testNS
			got, err := c.Candidates(t.Context(), tt.spec)
			if tt.wantErr != nil {
				if !errors.Is(err, ErrNoTarget) {
					t.Fatalf("err = %v, want ErrNoTarget", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err = %q, want it to contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Candidates: %v", err)
			}
			if !slices.Equal(names(got), tt.want) {
				t.Errorf("Candidates = %v, want %v", names(got), tt.want)
			}
		})
	}
}

func TestOwnerOf(t *testing.T) {
	rsGet := Permission{Group: "apps", Resource: "replicasets", Verb: "get", Namespace: testNS, Name: "cache-5d8f"}
	objs := []runtime.Object{
		statefulSet("redis", 3, map[string]string{"app": "redis"}),
		deployment("cache", 2, map[string]string{"app": "cache"}),
		controlled(replicaSet("cache-5d8f"), "Deployment", "cache"),
		replicaSet("orphan-77"),
	}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		allowed []Permission
		want    *Workload
		wantErr string
		wantIs  error
	}{
		{name: "bare pod", pod: readyPod("solo", nil), want: &Workload{Workload: restore.Workload{Namespace: testNS, Name: "solo"}}},
		{name: "bare pod never restarted", pod: func() *corev1.Pod {
			p := readyPod("once", nil)
			p.Spec.RestartPolicy = corev1.RestartPolicyNever
			return p
		}(), want: &Workload{Workload: restore.Workload{Namespace: testNS, Name: "once", RestartPolicy: "Never"}}},
		{
			name: "statefulset",
			pod:  controlled(readyPod("redis-0", nil), "StatefulSet", "redis"),
			want: &Workload{Workload: restore.Workload{Kind: "StatefulSet", Namespace: testNS, Name: "redis", Replicas: 3}, Selector: "app=redis"},
		},
		{
			name:    "replicaset of a deployment",
			pod:     controlled(readyPod("cache-5d8f-x", nil), "ReplicaSet", "cache-5d8f"),
			allowed: []Permission{rsGet},
			want:    &Workload{Workload: restore.Workload{Kind: "Deployment", Namespace: testNS, Name: "cache", Replicas: 2}, Selector: "app=cache"},
		},
		{
			name:    "replicaset not readable",
			pod:     controlled(readyPod("cache-5d8f-x", nil), "ReplicaSet", "cache-5d8f"),
			wantErr: "get replicasets cache-5d8f in namespace prod",
			wantIs:  ErrForbidden,
		},
		{
			name:    "replicaset without a deployment",
			pod:     controlled(readyPod("orphan-77-x", nil), "ReplicaSet", "orphan-77"),
			allowed: []Permission{{Group: "apps", Resource: "replicasets", Verb: "get", Namespace: testNS, Name: "orphan-77"}},
			wantErr: "belongs to replicaset orphan-77 without a Deployment",
		},
		{
			name:    "another controller",
			pod:     controlled(readyPod("rf-0", nil), "RedisFailover", "rf"),
			wantErr: "pod prod/rf-0 is controlled by a RedisFailover",
		},
		{
			name:    "statefulset missing",
			pod:     controlled(readyPod("gone-0", nil), "StatefulSet", "gone"),
			wantErr: "get statefulset prod/gone",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset(objs...)
			allowOnly(cs, tt.allowed...)
			c := &Client{API: kubeapitest.Wrap(cs)}
			got, err := c.OwnerOf(t.Context(), tt.pod)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("err = %v, want %v", err, tt.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("OwnerOf: %v", err)
			}
			if *got != *tt.want {
				t.Errorf("OwnerOf = %+v, want %+v", *got, *tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	w := &Workload{Workload: restore.Workload{Kind: "StatefulSet", Namespace: testNS, Name: "redis", Replicas: 1}}
	need := RestorePermissions(w, "offline")
	scale := Permission{Group: "apps", Resource: "statefulsets", Subresource: "scale", Verb: "update", Namespace: testNS, Name: "redis"}
	del := Permission{Resource: "pods", Verb: "delete", Namespace: testNS}
	var held []Permission
	for _, p := range need {
		if p != scale && p != del {
			held = append(held, p)
		}
	}
	tests := []struct {
		name    string
		allowed []Permission
		want    string // the whole error; "" for none
	}{
		{name: "all allowed", allowed: need},
		{
			name:    "some denied",
			allowed: held,
			want: `missing Kubernetes permissions:
  - update statefulsets/scale redis in namespace prod
  - delete pods in namespace prod
hint: a Role in each namespace with these rules grants them:
    rules:
    - apiGroups: [""]
      resources: ["pods"]
      verbs: ["delete"]
    - apiGroups: ["apps"]
      resources: ["statefulsets/scale"]
      resourceNames: ["redis"]
      verbs: ["update"]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewClientset()
			asked := allowOnly(cs, tt.allowed...)
			err := (&Client{API: kubeapitest.Wrap(cs)}).Check(t.Context(), need)
			if !slices.Equal(*asked, need) {
				t.Errorf("asked %v, want every permission once, in order: %v", *asked, need)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrForbidden) {
				t.Fatalf("err = %v, want ErrForbidden", err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("err =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestCheckReviewFails(t *testing.T) {
	cs := fake.NewClientset()
	boom := errors.New("the server is unavailable")
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, boom
	})
	need := []Permission{{Resource: "pods", Verb: "get", Namespace: testNS}}
	err := (&Client{API: kubeapitest.Wrap(cs)}).Check(t.Context(), need)
	if !errors.Is(err, boom) || errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "get pods in namespace prod") {
		t.Errorf("err = %v, want the review error naming the permission, not ErrForbidden", err)
	}
}
