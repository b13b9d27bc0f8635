package restore

import (
	"errors"
	"strings"
	"testing"
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
		{"statefulset with a PVC: offline", "auto", sts(1), Persistent, rdbOnly, Offline, nil, ""},
		{"empty asked means auto", "", sts(1), Persistent, aof, Offline, nil, ""},
		{"deployment with a PVC: offline", "auto", Workload{Kind: "Deployment", Name: "d", Replicas: 1}, Persistent, rdbOnly, Offline, nil, ""},
		{"emptyDir: in-place", "auto", sts(1), Ephemeral, rdbOnly, InPlace, nil, ""},
		{"bare pod on a PVC: in-place", "auto", bare, Persistent, rdbOnly, InPlace, nil, ""},
		{"in-place asked on a PVC", "in-place", sts(1), Persistent, rdbOnly, InPlace, nil, ""},
		{"no volume: refused", "auto", sts(1), NoVolume, rdbOnly, "", ErrRefused, "not on a volume"},
		{"no volume refused whatever is asked", "in-place", sts(1), NoVolume, rdbOnly, "", ErrRefused, "not on a volume"},
		{"several replicas: refused", "auto", sts(3), Persistent, rdbOnly, "", ErrRefused, "has 3 replicas"},
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
			"verify backup 20261122T030000Z-abcdef",
			"BGSAVE the current data, so it survives the stop and is kept as dump.rdb.pre-restore",
			"scale statefulset ns/redis from 1 to 0 and wait until its pod is gone (annotated rdbak.io/x)",
			"run a restore pod",
			"write /data/dump.rdb.rdbak-tmp, check its length and SHA-256, keep the current file as /data/dump.rdb.pre-restore",
			"scale statefulset ns/redis back to 1",
			"compare its key counts",
		}},
		{"offline, multi-part AOF", Offline, Layout{Dir: "/bitnami/redis/data", DBFilename: "dump.rdb", AOF: AOF{Mode: "multipart", DirName: "appendonlydir"}}, []string{
			"verify", "AOF is on", "scale", "restore pod",
			"set /bitnami/redis/data/appendonlydir aside and install the RDB as the base of a new AOF manifest",
			"back to 1", "key counts",
		}},
		{"offline, Redis 6 AOF", Offline, Layout{Dir: "/data", DBFilename: "dump.rdb", AOF: AOF{Mode: "single", FileName: "appendonly.aof"}}, []string{
			"verify", "AOF is on", "scale", "restore pod", "install the RDB as /data/appendonly.aof", "back to 1", "key counts",
		}},
		{"in-place", InPlace, Layout{Dir: "/data", DBFilename: "dump.rdb"}, []string{
			"verify", "BGSAVE", `CONFIG SET save ""`, "through exec", "rename the new one into place", "SHUTDOWN NOSAVE", "key counts",
		}},
		{"in-place, multi-part AOF", InPlace, Layout{Dir: "/data", DBFilename: "dump.rdb", AOF: AOF{Mode: "multipart", DirName: "appendonlydir"}}, []string{
			"verify", "AOF is on", "CONFIG SET appendonly no, which fsyncs and closes the AOF", "through exec",
			"set /data/appendonlydir aside and install the RDB as the base of a new AOF manifest", "SHUTDOWN NOSAVE", "key counts",
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
