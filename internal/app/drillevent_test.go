package app

import (
	"log/slog"
	"testing"

	"github.com/rdbak/rdbak/internal/kubeapi/kubeapitest"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/testenv"
)

// TestDrillFailedEvent: a failed drill is a Warning Event DrillFailed on
// the target's StatefulSet, found through the API server alone.
func TestDrillFailedEvent(t *testing.T) {
	labels := map[string]string{"app": "redis"}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "redis-master", Namespace: "prod", UID: "sts-uid"},
		Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "redis-master-0", Namespace: "prod", Labels: labels},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	cs := fake.NewClientset(sts, pod)
	kc := &kube.Client{API: kubeapitest.Wrap(cs)}
	logs := &testenv.Buffer{}
	recordWorkloadEvent(t.Context(), slog.New(slog.NewTextHandler(logs, nil)), kc, kube.Spec{Namespace: "prod", StatefulSet: "redis-master"},
		kube.ReasonDrillFailed, "drill of backup x of redis failed: verify: ...", true)
	evs, err := cs.CoreV1().Events("prod").List(t.Context(), metav1.ListOptions{})
	if err != nil || len(evs.Items) != 1 {
		t.Fatalf("events = %v, %v; want 1\n%s", evs, err, logs)
	}
	ev := evs.Items[0]
	if ev.Reason != "DrillFailed" || ev.Type != corev1.EventTypeWarning || ev.Action != "Drill" ||
		ev.InvolvedObject.Kind != "StatefulSet" || ev.InvolvedObject.Name != "redis-master" || ev.InvolvedObject.UID != "sts-uid" {
		t.Errorf("event = %+v", ev)
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource != "events" {
			t.Errorf("recording an event created a %s", a.GetResource().Resource)
		}
	}
}
