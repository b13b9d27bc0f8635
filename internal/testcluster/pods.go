package testcluster

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodsOf returns the Ready pods matching sel in n, sorted by name.
func (n *Namespace) PodsOf(t testing.TB, sel *metav1.LabelSelector) []corev1.Pod {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %v: %v", sel, err)
	}
	list, err := n.Clientset.CoreV1().Pods(n.Name).List(t.Context(), metav1.ListOptions{LabelSelector: s.String()})
	if err != nil {
		t.Fatalf("list pods %s: %v", s, err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if PodReady(&p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}
