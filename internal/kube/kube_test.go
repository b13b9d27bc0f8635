package kube

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func pods(names ...string) []corev1.Pod {
	var out []corev1.Pod
	for _, n := range names {
		out = append(out, corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "prod"}})
	}
	return out
}

func TestPick(t *testing.T) {
	spec := Spec{Namespace: "prod", StatefulSet: "redis"}
	master := Role{Master: true, IOSecondsAgo: -1}
	replica := Role{LinkUp: true, IOSecondsAgo: 1}
	stale := Role{LinkUp: true, IOSecondsAgo: 60}
	down := Role{LinkUp: false, IOSecondsAgo: -1}
	tests := []struct {
		name    string
		roles   []Role
		prefer  string
		want    int
		wantErr string
	}{
		{"master by default", []Role{replica, master}, "", 1, ""},
		{"replica when preferred", []Role{master, replica}, "replica", 1, ""},
		{"preferred replica stale: master", []Role{master, stale}, "replica", 0, ""},
		{"link down replica never", []Role{down, master}, "replica", 1, ""},
		{"only a healthy replica", []Role{down, replica}, "", 1, ""},
		{"two masters", []Role{master, master}, "", 0, "2 independent Redis masters (a, b)"},
		{"nothing usable", []Role{down, stale}, "", 0, "stale: a, b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Pick(spec, pods("a", "b"), tt.roles, tt.prefer)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrNoTarget) {
					t.Fatalf("err = %v, want ErrNoTarget containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Pick = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestRedisContainer(t *testing.T) {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "exporter", Ports: []corev1.ContainerPort{{ContainerPort: 9121}}},
		{Name: "redis", Ports: []corev1.ContainerPort{{Name: "redis", ContainerPort: 6380}}},
	}}}
	if c, port, err := RedisContainer(p, ""); err != nil || c != "redis" || port != 6380 {
		t.Errorf("by port name = %s %d %v", c, port, err)
	}
	if c, _, err := RedisContainer(p, "exporter"); err != nil || c != "exporter" {
		t.Errorf("by name = %s %v", c, err)
	}
	if _, _, err := RedisContainer(p, "nope"); err == nil || !strings.Contains(err.Error(), "exporter, redis") {
		t.Errorf("unknown name: err = %v, want the containers listed", err)
	}
	p.Spec.Containers[1].Ports = nil
	if _, _, err := RedisContainer(p, ""); err == nil || !strings.Contains(err.Error(), "--container") {
		t.Errorf("ambiguous: err = %v, want a hint to --container", err)
	}
}

func TestSpecValidate(t *testing.T) {
	for _, s := range []Spec{
		{Namespace: "a"},
		{Namespace: "a", Pod: "x", Selector: "app=y"},
		{Pod: "x"},
		{Namespace: "a", Selector: "app in ("},
		{Namespace: "a", Pod: "x", Component: "master"},
	} {
		if err := s.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", s)
		}
	}
	if err := (Spec{Namespace: "a", HelmRelease: "redis", Component: "replica"}).Validate(); err != nil {
		t.Errorf("helm release with component: %v", err)
	}
}

func TestRoleRules(t *testing.T) {
	got := roleRules([]Permission{
		{Resource: "pods", Subresource: "exec", Verb: "get", Namespace: "prod"},
		{Resource: "pods", Subresource: "exec", Verb: "create", Namespace: "prod"},
		{Resource: "secrets", Verb: "get", Namespace: "prod", Name: "redis"},
	})
	want := `    rules:
    - apiGroups: [""]
      resources: ["pods/exec"]
      verbs: ["create", "get"]
    - apiGroups: [""]
      resources: ["secrets"]
      resourceNames: ["redis"]
      verbs: ["get"]`
	if got != want {
		t.Errorf("roleRules =\n%s\nwant\n%s", got, want)
	}
}

// TestPodStreamLength: the exec stream must deliver exactly the announced
// size; short is an error even when the exec exits 0, and so is long.
func TestPodStreamLength(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		wantErr    error
		wantText   string
	}{
		{"exact", "12345", nil, ""},
		{"short", "123", io.ErrUnexpectedEOF, "2 bytes missing"},
		{"long", "1234567", nil, "more bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			go func() { pw.Write([]byte(tt.data)); pw.Close() }()
			done := make(chan error, 1)
			done <- nil
			s := &podStream{r: bufio.NewReader(pr), pr: pr, left: 5, cancel: func() {}, done: done, where: "ns/p:/data/dump.rdb"}
			got, err := io.ReadAll(s)
			s.Close()
			switch {
			case tt.wantErr == nil && tt.wantText == "":
				if err != nil || string(got) != tt.data {
					t.Fatalf("read %q, %v; want %q", got, err, tt.data)
				}
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr), err == nil, !strings.Contains(err.Error(), tt.wantText):
				t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.wantText)
			}
		})
	}
}
