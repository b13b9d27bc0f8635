package restore

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestChooseStrategy(t *testing.T) {
	sts := func(n int32) Workload {
		return Workload{Kind: "StatefulSet", Namespace: "ns", Name: "redis", Replicas: n}
	}
	bare := Workload{Namespace: "ns", Name: "redis-0"}
	rdbOnly := Layout{Dir: "/data", DBFilename: "dump.rdb"}
	aof := Layout{Dir: "/data", DBFilename: "dump.rdb", AOF: AOF{Mode: "multipart", DirName: "appendonlydir", FileName: "appendonly.aof"}}
	tests := []struct {
		name    string
		asked   string
		w       Workload
		vol     Volume
		l       Layout
		want    Strategy
		wantErr error
		errText string
	}{
		{"statefulset with a PVC: restart", "auto", sts(1), Persistent, rdbOnly, Restart, nil, ""},
		{"empty asked means auto", "", sts(1), Persistent, aof, Restart, nil, ""},
		{"deployment with a PVC: restart", "auto", Workload{Kind: "Deployment", Name: "d", Replicas: 1}, Persistent, rdbOnly, Restart, nil, ""},
		{"offline asked on a PVC", "offline", sts(1), Persistent, rdbOnly, Offline, nil, ""},
		{"restart asked on a PVC", "restart", sts(1), Persistent, aof, Restart, nil, ""},
		{"restart on an emptyDir", "restart", sts(1), Ephemeral, rdbOnly, "", ErrBadRequest, "--strategy restart: the data is on an emptyDir"},
		{"emptyDir: in-place", "auto", sts(1), Ephemeral, rdbOnly, InPlace, nil, ""},
		{"bare pod on a PVC: in-place", "auto", bare, Persistent, rdbOnly, InPlace, nil, ""},
		{"bare pod restarted always: in-place", "auto", Workload{Namespace: "ns", Name: "redis", RestartPolicy: "Always"}, Ephemeral, rdbOnly, InPlace, nil, ""},
		{"bare pod never restarted: refused", "auto", Workload{Namespace: "ns", Name: "redis", RestartPolicy: "Never"}, Ephemeral, rdbOnly, "", ErrRefused, "pod ns/redis has restartPolicy Never"},
		{"bare pod restarted on failure: refused", "in-place", Workload{Namespace: "ns", Name: "redis", RestartPolicy: "OnFailure"}, Persistent, rdbOnly, "", ErrRefused, "restartPolicy OnFailure"},
		{"in-place asked on a PVC", "in-place", sts(1), Persistent, rdbOnly, InPlace, nil, ""},
		{"no volume: refused", "auto", sts(1), NoVolume, rdbOnly, "", ErrRefused, "not on a volume"},
		{"no volume refused whatever is asked", "in-place", sts(1), NoVolume, rdbOnly, "", ErrRefused, "not on a volume"},
		{"several replicas: refused", "auto", sts(3), Persistent, rdbOnly, "", ErrRefused, "has 3 replicas, each with its own data; restore one pod with --pod and --strategy in-place"},
		{"one of several replicas in place", "in-place", sts(3), Persistent, rdbOnly, InPlace, nil, ""},
		{"offline on an emptyDir", "offline", sts(1), Ephemeral, rdbOnly, "", ErrBadRequest, "emptyDir"},
		{"offline on a bare pod", "offline", bare, Persistent, rdbOnly, "", ErrBadRequest, "no StatefulSet or Deployment"},
		{"offline with several replicas", "offline", sts(2), Persistent, rdbOnly, "", ErrBadRequest, "has 2 replicas"},
		{"unknown strategy", "online", sts(1), Persistent, rdbOnly, "", ErrBadRequest, `"online"`},
		{"emptyDir with AOF: in-place", "auto", sts(1), Ephemeral, aof, InPlace, nil, ""},
		{"in-place asked with AOF", "in-place", sts(1), Persistent, aof, InPlace, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ChooseStrategy(tc.asked, tc.w, tc.vol, tc.l)
			if got != tc.want || !errors.Is(err, tc.wantErr) || tc.wantErr == nil && err != nil {
				t.Fatalf("ChooseStrategy = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("error %q does not say %q", err, tc.errText)
			}
		})
	}
}

func TestSteps(t *testing.T) {
	w := Workload{Kind: "StatefulSet", Namespace: "ns", Name: "redis", Replicas: 1}
	tests := []struct {
		name string
		s    Strategy
		l    Layout
		want []string // a fragment of each step, in order
	}{
		{"offline, RDB", Offline, Layout{Dir: "/data", DBFilename: "dump.rdb"}, []string{
			"staging pod with the rdbak image on the Redis pod's node, mounting the same volume beside the running Redis; download backup 20261122T030000Z-abcdef (checking its stored size and SHA-256) and stream it, still compressed, to the staging pod, which decodes it into /data/dump.rdb.rdbak-tmp",
			"meanwhile, BGSAVE the current data, so that it is kept as dump.rdb.pre-restore: started by the length of Redis's last BGSAVE to end with the staging",
			`turn off Redis's save points (CONFIG SET save "", so stopping it writes nothing over the data), scale statefulset ns/redis from 1 to 0 and wait until its pod is gone (annotated rdbak.io/x): the downtime starts here`,
			"swap the staged files in, each by one atomic exchange",
			"scale statefulset ns/redis back to 1, delete the staging pod",
			"loaded the data (the downtime ends here) and compare its key counts",
		}},
		{"restart, RDB", Restart, Layout{Dir: "/data", DBFilename: "dump.rdb"}, []string{
			"staging pod with the rdbak image on the Redis pod's node, mounting the same volume beside the running Redis; download backup 20261122T030000Z-abcdef (checking its stored size and SHA-256) and stream it, still compressed",
			"meanwhile, BGSAVE the current data",
			`turn off every save in Redis (CONFIG SET save "", and shutdown-on-sigterm nosave on 7.0+); it keeps serving; should Redis refuse, scale statefulset ns/redis to 0 instead`,
			"from the staging pod, swap the staged files in, each by one atomic exchange, keeping the current ones as .pre-restore (/data/dump.rdb always holds the old or the new data, never nothing); the running Redis does not read them",
			"SHUTDOWN NOSAVE) so the kubelet restarts its container on the restored file (the downtime starts here); wait until it is Ready. Should Redis refuse, scale statefulset ns/redis to 0 and back to 1",
			"loaded the data (the downtime ends here) and compare its key counts",
		}},
		{"restart, multi-part AOF", Restart, Layout{Dir: "/data", DBFilename: "dump.rdb", AOF: AOF{Mode: "multipart", DirName: "appendonlydir"}}, []string{
			"/data/appendonlydir.rdbak-tmp", "AOF is on", "CONFIG SET appendonly no", "from the staging pod, swap", "SHUTDOWN NOSAVE", "key counts",
		}},
		{"offline, multi-part AOF", Offline, Layout{Dir: "/bitnami/redis/data", DBFilename: "dump.rdb", AOF: AOF{Mode: "multipart", DirName: "appendonlydir"}}, []string{
			"/bitnami/redis/data/appendonlydir.rdbak-tmp (a new AOF manifest with the RDB as its base)", "AOF is on", "scale", "swap", "back to 1", "key counts",
		}},
		{"offline, Redis 6 AOF", Offline, Layout{Dir: "/data", DBFilename: "dump.rdb", AOF: AOF{Mode: "single", FileName: "appendonly.aof"}}, []string{
			"/data/appendonly.aof.rdbak-tmp", "AOF is on", "scale", "swap", "back to 1", "key counts",
		}},
		{"in-place", InPlace, Layout{Dir: "/data", DBFilename: "dump.rdb"}, []string{
			"through exec into the Redis container", "BGSAVE", `CONFIG SET save ""`,
			"rename the staged file over it (/data/dump.rdb always holds the old or the new data, never nothing); the running Redis does not read them",
			"SHUTDOWN NOSAVE", "key counts",
		}},
		{"in-place, multi-part AOF", InPlace, Layout{Dir: "/data", DBFilename: "dump.rdb", AOF: AOF{Mode: "multipart", DirName: "appendonlydir"}}, []string{
			"through exec into the Redis container, download and verify backup 20261122T030000Z-abcdef (sizes, SHA-256, RDB CRC-64) while streaming it into /data/dump.rdb.rdbak-tmp and /data/appendonlydir.rdbak-tmp (a new AOF manifest with the RDB as its base)",
			"AOF is on", `CONFIG SET save "", and shutdown-on-sigterm nosave on 7.0+); it keeps serving; CONFIG SET appendonly no, which fsyncs and closes the AOF`,
			"rename /data/appendonlydir to appendonlydir.pre-restore and the staged AOF directory into its place", "SHUTDOWN NOSAVE", "key counts",
		}},
		{"in-place, Redis 6 AOF", InPlace, Layout{Dir: "/data", DBFilename: "dump.rdb", AOF: AOF{Mode: "single", FileName: "appendonly.aof"}}, []string{
			"/data/appendonly.aof.rdbak-tmp", "AOF is on", "CONFIG SET appendonly no",
			"keep /data/appendonly.aof as appendonly.aof.pre-restore by a hard link and rename the staged AOF over it", "SHUTDOWN NOSAVE", "key counts",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Steps(tc.s, "20261122T030000Z-abcdef", w, tc.l, "rdbak.io/x")
			if len(got) != len(tc.want) {
				t.Fatalf("%d steps, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("step %d = %q, want it to contain %q", i+1, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestEstimateOf: the offline strategy's downtime is a pod's stop, start
// and Redis's load, not the stream; in-place's a container restart.
func TestEstimateOf(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name           string
		s              Strategy
		size           int64
		save           bool
		total, downtme time.Duration
	}{
		// stream 1024/60 s, load 1024/150 s, save 1024/48 s, of which half
		// adds to the staging it runs beside
		{"offline 1 GiB", Offline, gib, true, 17066666666 + 2*time.Second + 10326666666 + time.Second + 10666666666, 10326666666},
		{"in-place 1 GiB", InPlace, gib, false, 17066666666 + 8826666666 + time.Second, 8826666666},
		{"restart 1 GiB", Restart, gib, false, 17066666666 + 2*time.Second + 8826666666 + time.Second, 8826666666},
		{"empty, offline", Offline, 0, false, 6500 * time.Millisecond, 3500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := EstimateOf(tc.s, tc.size, tc.save)
			if got.Downtime != tc.downtme || got.Total != tc.total {
				t.Errorf("EstimateOf = %+v, want total %v downtime %v", got, tc.total, tc.downtme)
			}
			if got.Downtime >= got.Total {
				t.Errorf("downtime %v not below total %v", got.Downtime, got.Total)
			}
		})
	}
}

func TestLayoutPersistence(t *testing.T) {
	for _, tc := range []struct {
		l    Layout
		want string
	}{
		{Layout{DBFilename: "dump.rdb"}, "RDB (dump.rdb)"},
		{Layout{AOF: AOF{Mode: "multipart", DirName: "appendonlydir"}}, "appendonly yes (multi-part AOF in appendonlydir)"},
		{Layout{AOF: AOF{Mode: "single", FileName: "appendonly.aof"}}, "appendonly yes (appendonly.aof)"},
	} {
		if got := tc.l.Persistence(); got != tc.want {
			t.Errorf("Persistence() = %q, want %q", got, tc.want)
		}
	}
}
