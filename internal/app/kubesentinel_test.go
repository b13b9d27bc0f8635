package app

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodOf(t *testing.T) {
	mk := func(name, ip string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: name}, Status: corev1.PodStatus{PodIP: ip}}
	}
	pods := map[string]*corev1.Pod{"10.0.0.1": mk("redis-node-0", "10.0.0.1"), "10.0.0.2": mk("redis-node-1", "10.0.0.2")}
	for _, tt := range []struct {
		addr, want string
	}{
		{"10.0.0.2:6379", "redis-node-1"},
		{"10.0.0.9:6379", ""},
		{"redis-node-0.redis-headless.prod.svc.cluster.local:6379", "redis-node-0"},
		{"redis-node-0.redis-headless.staging.svc.cluster.local:6379", ""},
		{"redis-node-1.redis-headless:26379", "redis-node-1"},
		{"redis-node-1:26379", "redis-node-1"},
		{"redis-node-7.redis-headless:6379", ""},
		{"nonsense", ""},
	} {
		got := ""
		if p := podOf(pods, tt.addr); p != nil {
			got = p.Name
		}
		if got != tt.want {
			t.Errorf("podOf(%s) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}
