package kube

import (
	"slices"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/kubeapi/kubeapitest"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestShellWords(t *testing.T) {
	for in, want := range map[string][]string{
		`exec redis-server --loadmodule /m.so "a b" --requirepass "$P"`: {"exec", "redis-server", "--loadmodule", "/m.so", "a b", "--requirepass", "$P"},
		`loadmodule '/opt/x y.so' arg # a comment`:                      {"loadmodule", "/opt/x y.so", "arg"},
		`# maxmemory 1gb`: nil,
		`a\ b "c\"d"; e`:  {"a b", `c"d`, "e"},
	} {
		if got := shellWords(in); !slices.Equal(got, want) {
			t.Errorf("shellWords(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDrillPodServerOptions: loadmodule and maxmemory reach the scratch
// server from a redis.conf the target mounts, from a shell command's words
// and from plain arguments (which override the file); a module loaded
// twice is loaded once.
func TestDrillPodServerOptions(t *testing.T) {
	src := targetPod()
	c := &src.Spec.Containers[1]
	c.Command = []string{"sh", "-c", `exec redis-server /etc/redis/redis.conf --loadmodule /opt/m.so 'a b' --maxmemory 200mb --appendonly yes`}
	c.Args = nil
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "config", MountPath: "/etc/redis"})
	yes := true
	src.Spec.Volumes = append(src.Spec.Volumes,
		corev1.Volume{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "redis-config"}}}},
		corev1.Volume{Name: "extra", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: &yes}}}}}},
		corev1.Volume{Name: "unmounted", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}}}})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "extra", MountPath: "/extra"})
	cs := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "redis-config", Namespace: testNS}, Data: map[string]string{
			"redis.conf": "maxmemory 100mb\nloadmodule /modules/json.so\n  loadmodule /opt/m.so 'a b'\n# loadmodule /commented.so\n",
			"start.sh":   "loadmodule /not-a-conf.so\n",
		}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: testNS}, Data: map[string]string{"redis.conf": "loadmodule /unmounted.so\n"}},
	)
	confs, err := (&Client{API: kubeapitest.Wrap(cs)}).MountedConf(t.Context(), src, "redis")
	if err != nil {
		t.Fatal(err)
	}
	if len(confs) != 1 || confs[0].Source != "ConfigMap "+testNS+"/redis-config key redis.conf" {
		t.Fatalf("MountedConf = %+v, want redis.conf of redis-config only", confs)
	}
	p, err := DrillPod(src, "redis", DrillPodOptions{Confs: confs})
	if err != nil {
		t.Fatal(err)
	}
	script := p.Spec.Containers[0].Command[2]
	for _, w := range []string{"--maxmemory '100mb' --loadmodule '/modules/json.so' --loadmodule '/opt/m.so' 'a b' --maxmemory '200mb'"} {
		if !strings.Contains(script, w) {
			t.Errorf("script %q lacks %q", script, w)
		}
	}
	for _, w := range []string{"commented", "not-a-conf", "unmounted", "/etc/redis/redis.conf", "appendonly yes"} {
		if strings.Contains(script, w) {
			t.Errorf("script %q has %q", script, w)
		}
	}
	mods := DrillModules(src, "redis", confs)
	want := []string{
		"/modules/json.so (loadmodule in redis.conf in ConfigMap " + testNS + "/redis-config key redis.conf)",
		"/opt/m.so (loadmodule in redis.conf in ConfigMap " + testNS + "/redis-config key redis.conf)",
	}
	if !slices.Equal(mods, want) {
		t.Errorf("DrillModules = %q, want %q", mods, want)
	}
	if _, err := (&Client{API: kubeapitest.Wrap(fake.NewClientset())}).MountedConf(t.Context(), src, "redis"); err == nil || !strings.Contains(err.Error(), "ConfigMap "+testNS+"/redis-config") {
		t.Errorf("MountedConf of a missing ConfigMap = %v, want an error naming it", err)
	}
}
