//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/internal/testcluster"
)

// scrape fetches http://addr/metrics and returns its samples by name with
// labels, e.g. `rdbak_backup_total{result="success",target="redis"}`.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", addr, resp.Status)
	}
	samples := map[string]float64{}
	s := bufio.NewScanner(resp.Body)
	for s.Scan() {
		line := s.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("scrape %s: bad sample line %q", addr, line)
		}
		samples[line[:i]] = v
	}
	if err := s.Err(); err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	return samples
}

func daemonPods(t *testing.T, ns *testcluster.Namespace) []corev1.Pod {
	t.Helper()
	l, err := ns.Clientset.CoreV1().Pods(ns.Name).List(t.Context(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=daemon"})
	if err != nil {
		t.Fatalf("list daemon pods: %v", err)
	}
	return l.Items
}

// TestDeployDaemon applies deploy/examples/daemon as shipped (patched as in
// TestDeployCronJob), first without each rule of its Lease Role (no replica
// leads or backs up), then whole: both replicas become ready, one holds the Lease and
// reports rdbak_leader 1, scheduled backups appear in MinIO and verify from
// outside, and the leader's metrics count them.
func TestDeployDaemon(t *testing.T) {
	image := restoreImage(t)
	target := testcluster.New(t)
	home := target.NewNamespace(t)
	store := startNodeMinIO(t, target.Cluster)
	deployRedis(t, target)

	cfg := deployConfig(store.url, target.Name)
	api := apiServerEnv(t, home.Cluster, "Deployment", "/spec/template/spec")

	// Least privilege first, while no Lease exists: without either rule of
	// the shipped Role rdbak-leader (0 create, 1 get and update) no replica
	// leads, so none schedules, and client-go's leader election names the
	// verb it was refused. Rule 1 goes first: a get allowed by the old Role
	// and a create by the new one could otherwise elect a leader mid-swap.
	for _, c := range []struct {
		rule int
		verb string
	}{{1, "get"}, {0, "create"}} {
		i, verb := c.rule, c.verb
		drop := fmt.Sprintf(`- target: {kind: Role, name: rdbak-leader}
  patch: '[{"op": "remove", "path": "/rules/%d"}]'
`, i)
		home.Apply(t, kustomizeOverlay(t, home.Cluster, []string{"examples/daemon"}, home.Name, target.Name, image, cfg, api, drop))
		// client-go's own line, as a warning of rdbak's log: the JSON or
		// text handler escapes its quotes around "leases".
		refused := fmt.Sprintf(`cannot %s resource`, verb)
		home.WaitFor(t, "a daemon warning saying "+refused+` "leases"`, func(ctx context.Context) (bool, error) {
			for _, p := range daemonPods(t, home) {
				if p.Status.Phase != corev1.PodRunning {
					continue
				}
				for _, line := range strings.Split(podLog(t, home, p.Name, "rdbak"), "\n") {
					if strings.Contains(line, refused) && strings.Contains(line, "leases") && strings.Contains(strings.ToUpper(line), "WARN") {
						return true, nil
					}
				}
			}
			return false, nil
		})
		for _, p := range daemonPods(t, home) {
			if p.Status.Phase != corev1.PodRunning {
				continue
			}
			addr := home.PortForward(t, p.Name, 9090)
			if m := scrape(t, addr); m["rdbak_leader"] != 0 {
				t.Errorf("without lease rule %d, pod %s reports rdbak_leader %v", i, p.Name, m["rdbak_leader"])
			}
			resp, err := http.Get("http://" + addr + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("without lease rule %d, pod %s answers /readyz with %s, want 503", i, p.Name, resp.Status)
			}
		}
		if keys := store.objects(t); len(keys) != 0 {
			t.Errorf("without lease rule %d, the bucket holds %v", i, keys)
		}
	}

	home.Apply(t, kustomizeOverlay(t, home.Cluster, []string{"examples/daemon"}, home.Name, target.Name, image, cfg, api))
	home.WaitDeployment(t, "rdbak-daemon")

	var holder string
	home.WaitFor(t, "the Lease rdbak-daemon to have a holder", func(ctx context.Context) (bool, error) {
		l, err := home.Clientset.CoordinationV1().Leases(home.Name).Get(ctx, "rdbak-daemon", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		holder = aws.ToString(l.Spec.HolderIdentity)
		return holder != "", nil
	})
	home.WaitFor(t, "a scheduled backup in MinIO", func(context.Context) (bool, error) {
		for _, k := range store.objects(t) {
			if strings.HasSuffix(k, "/manifest.json") {
				return true, nil
			}
		}
		return false, nil
	})
	rdbak(t, home, store.env, "verify", "latest", "--storage", store.url, "--target", "redis").ok(t)

	pods := daemonPods(t, home)
	if len(pods) != 2 {
		t.Fatalf("%d daemon pods, want 2", len(pods))
	}
	leaders := 0
	for _, p := range pods {
		m := scrape(t, home.PortForward(t, p.Name, 9090))
		leads := m["rdbak_leader"] == 1
		t.Logf("pod %s: rdbak_leader %v, successes %v", p.Name, m["rdbak_leader"], m[`rdbak_backup_total{result="success",target="redis"}`])
		if leads != strings.HasPrefix(holder, p.Name+"_") {
			t.Errorf("pod %s reports rdbak_leader %v, the Lease holder is %s", p.Name, m["rdbak_leader"], holder)
		}
		if leads {
			leaders++
			if n := m[`rdbak_backup_total{result="success",target="redis"}`]; n < 1 {
				t.Errorf("the leader counts %v successful backups, want at least 1", n)
			}
		} else if n := m[`rdbak_backup_total{result="success",target="redis"}`]; n != 0 {
			t.Errorf("the replica that does not lead counts %v backups, want 0", n)
		}
	}
	if leaders != 1 {
		t.Errorf("%d replicas lead, want 1", leaders)
	}
}
