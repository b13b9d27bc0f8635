package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/redis/info"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// fakeServer answers INFO from a queue of replies (the last one repeats)
// and CONFIG GET from a map: the backup.Server seam.
type fakeServer struct {
	replies []map[string]string
	errs    []error // returned before the replies, one per call
	config  map[string]string
	calls   int
}

func (f *fakeServer) Info(_ context.Context, _ ...string) (*info.Info, error) {
	f.calls++
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	r := f.replies[0]
	if len(f.replies) > 1 {
		f.replies = f.replies[1:]
	}
	return info.FromFields(r), nil
}

func (f *fakeServer) BGSave(context.Context, bool) (string, error) { return "", errors.New("unused") }
func (f *fakeServer) LastSave(context.Context) (time.Time, error) {
	return time.Time{}, errors.New("unused")
}
func (f *fakeServer) ConfigGet(_ context.Context, name string) (string, error) {
	v, ok := f.config[name]
	if !ok {
		return "", errors.New("ERR unknown config " + name)
	}
	return v, nil
}

func TestProbeRole(t *testing.T) {
	tests := []struct {
		name  string
		reply map[string]string
		want  kube.Role
		err   bool
	}{
		{"master", map[string]string{"role": "master", "connected_slaves": "2"}, kube.Role{Master: true, IOSecondsAgo: -1}, false},
		{"healthy replica", map[string]string{"role": "slave", "master_link_status": "up", "master_last_io_seconds_ago": "1"}, kube.Role{LinkUp: true, IOSecondsAgo: 1}, false},
		{"replica with its link down", map[string]string{"role": "slave", "master_link_status": "down"}, kube.Role{IOSecondsAgo: -1}, false},
		{"no role field", map[string]string{"redis_version": "7.0.15"}, kube.Role{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ProbeRole(t.Context(), &fakeServer{replies: []map[string]string{tc.reply}})
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("ProbeRole = %+v, %v; want %+v (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestForkCost(t *testing.T) {
	busy := map[string]string{"rdb_bgsave_in_progress": "1", "rdb_last_cow_size": "1"}
	done := map[string]string{"rdb_bgsave_in_progress": "0", "rdb_last_cow_size": "8192"}
	tests := []struct {
		name    string
		srv     *fakeServer
		want    int64
		wantMin int // INFO calls at least
	}{
		{"child reaped", &fakeServer{replies: []map[string]string{done}}, 8192, 1},
		{"waits for the child", &fakeServer{replies: []map[string]string{busy, busy, done}}, 8192, 3},
		{"child never reaped", &fakeServer{replies: []map[string]string{busy}}, -1, 10},
		{"INFO fails", &fakeServer{errs: []error{errors.New("connection reset")}}, -1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ForkCost(t.Context(), tc.srv, time.Microsecond); got != tc.want || tc.srv.calls < tc.wantMin {
				t.Fatalf("ForkCost = %d after %d INFO calls, want %d after at least %d", got, tc.srv.calls, tc.want, tc.wantMin)
			}
		})
	}
}

func TestCheckRestored(t *testing.T) {
	m := &storage.Manifest{ID: "x", RDB: storage.RDB{DBs: []storage.DB{{Index: 0, Keys: 10, Expires: 2}}}}
	loading := map[string]string{"loading": "1"}
	loaded := map[string]string{"loading": "0", "rdb_last_load_keys_loaded": "10", "rdb_last_load_keys_expired": "0", "db0": "keys=10,expires=2"}
	short := map[string]string{"loading": "0", "rdb_last_load_keys_loaded": "3", "rdb_last_load_keys_expired": "0", "db0": "keys=3,expires=0"}
	// Redis 6.2 has no load counters: the keyspace is compared instead.
	old := map[string]string{"loading": "0", "db0": "keys=9,expires=1"}
	tests := []struct {
		name    string
		srv     *fakeServer
		wantErr string
	}{
		{"waits out loading and LOADING replies", &fakeServer{errs: []error{&redis.ReplyError{Msg: "LOADING Redis is loading the dataset in memory"}}, replies: []map[string]string{loading, loaded}}, ""},
		{"too few keys", &fakeServer{replies: []map[string]string{short}}, "loaded 3 keys"},
		{"no load counters, a key expired", &fakeServer{replies: []map[string]string{old}}, ""},
		{"another error stops", &fakeServer{errs: []error{errors.New("NOAUTH")}}, "NOAUTH"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRestored(t.Context(), tc.srv, m, time.Microsecond)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("CheckRestored = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestLayoutOf(t *testing.T) {
	base := map[string]string{"dir": "/data", "dbfilename": "dump.rdb", "appendonly": "no", "appendfilename": "appendonly.aof", "appenddirname": "appendonlydir"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name   string
		config map[string]string
		t      config.Target
		major  int
		want   restore.Layout
	}{
		{"RDB only", base, config.Target{}, 7, restore.Layout{Dir: "/data", DBFilename: "dump.rdb"}},
		{"overrides win", base, config.Target{Dir: "/bitnami/redis/data", DBFilename: "x.rdb"}, 7, restore.Layout{Dir: "/bitnami/redis/data", DBFilename: "x.rdb"}},
		{"multi-part AOF on 7", with("appendonly", "yes"), config.Target{}, 7, restore.Layout{Dir: "/data", DBFilename: "dump.rdb",
			AOF: restore.AOF{Mode: "multipart", DirName: "appendonlydir", FileName: "appendonly.aof"}}},
		{"single AOF on 6", with("appendonly", "yes"), config.Target{}, 6, restore.Layout{Dir: "/data", DBFilename: "dump.rdb",
			AOF: restore.AOF{Mode: "single", FileName: "appendonly.aof"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := layoutOf(t.Context(), &fakeServer{config: tc.config}, &tc.t, tc.major)
			if err != nil || got != tc.want {
				t.Fatalf("layoutOf = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestPodFacts(t *testing.T) {
	if got := parseDF("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 1000 10 990 1% /data\n"); got != 990*1024 {
		t.Errorf("parseDF = %d, want %d", got, 990*1024)
	}
	if got := parseDF("df: /data: No such file"); got != -1 {
		t.Errorf("parseDF of an error = %d, want -1", got)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "redis-node-0", Namespace: "ns"}, Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "redis", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}}},
		{Name: "sentinel", Command: []string{"redis-sentinel"}},
	}}}
	if got := memoryLimit(p, "redis"); got != 256<<20 {
		t.Errorf("memoryLimit = %d, want 256 MiB", got)
	}
	if got := memoryLimit(p, "sentinel"); got != 0 {
		t.Errorf("memoryLimit without a limit = %d, want 0", got)
	}
	if got := sentinelIn(p); !strings.Contains(got, "container sentinel") {
		t.Errorf("sentinelIn = %q, want it to name the sentinel container", got)
	}
	p.Spec.Containers = p.Spec.Containers[:1]
	if got := sentinelIn(p); got != "" {
		t.Errorf("sentinelIn without a sentinel = %q", got)
	}
	for _, tc := range []struct {
		m    *kube.DataMount
		want restore.Volume
	}{
		{nil, restore.NoVolume},
		{&kube.DataMount{Volume: corev1.Volume{VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}, restore.Ephemeral},
		{&kube.DataMount{Volume: corev1.Volume{VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}, restore.Persistent},
	} {
		if got := volumeOf(tc.m); got != tc.want {
			t.Errorf("volumeOf(%+v) = %v, want %v", tc.m, got, tc.want)
		}
	}
}

// TestBackupAndPrune runs the job of rdbak now against a real redis-server
// into file storage: the backup, its fork cost, and retention afterwards.
func TestBackupAndPrune(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, r, 1)
	repo, err := storage.Open(t.Context(), "file://"+t.TempDir(), storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	comp, err := Compression(config.Compression{Codec: config.CodecZstd})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.Buffer{}
	a := &App{Log: slog.New(slog.NewTextHandler(logs, nil)), Version: "test"}
	var ids []string
	for _, source := range []config.SourceKind{config.SourceReplication, config.SourceFile} {
		tgt := &config.Target{Name: "cache", Redis: "redis://" + r.Addr, Source: source, Retention: config.Retention{KeepLast: 1}}
		res, err := a.Backup(t.Context(), tgt, repo, comp, nil)
		if err != nil {
			t.Fatalf("%s backup: %v\n%s", source, err, logs)
		}
		if res.Manifest.Keys() == 0 || res.Manifest.Rdbak.Version != "test" || res.CowBytes < 0 {
			t.Errorf("%s backup: %d keys, rdbak %q, fork cost %d", source, res.Manifest.Keys(), res.Manifest.Rdbak.Version, res.CowBytes)
		}
		ids = append(ids, res.Manifest.ID)
	}
	if !strings.Contains(logs.String(), `msg="backup succeeded"`) {
		t.Errorf("no outcome line:\n%s", logs)
	}
	tgt := &config.Target{Name: "cache", Retention: config.Retention{KeepLast: 1}}
	rep, err := Prune(t.Context(), repo, tgt, false, time.Hour, time.Now())
	if err != nil || len(rep.Result.Plan) != 2 || len(rep.Result.Deleted) != 0 {
		t.Fatalf("dry-run prune = %+v, %v; want a plan of 2 and nothing deleted", rep.Result, err)
	}
	if _, err := Prune(t.Context(), repo, tgt, true, time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	ms, _, err := repo.List(t.Context(), "cache")
	if err != nil || len(ms) != 1 {
		t.Fatalf("after prune: %d backups (%v), want 1", len(ms), err)
	}
	if _, err := a.Backup(t.Context(), &config.Target{Name: "cache", Redis: "http://" + r.Addr}, repo, comp, nil); !errors.As(err, new(UsageError)) {
		t.Errorf("a non-Redis URL: %v, want a UsageError", err)
	}
}

func TestRDBVersionOf(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"repl-diskless-sync-delay 0"}})
	got, valkey, err := rdbVersionOf(t.Context(), &redis.PullSource{Addr: r.Addr})
	if err != nil {
		t.Fatal(err)
	}
	want, _, ok := restore.MaxRDBVersions("redis", fmt.Sprintf("%d.%d.%d", r.Version[0], r.Version[1], r.Version[2]))
	if !ok || got != want || valkey != 0 {
		t.Fatalf("rdbVersionOf = %d, %d; want %d, 0 (the table's value for Redis %v)", got, valkey, want, r.Version)
	}
}

// recorderFunc records an Event by calling itself.
type recorderFunc func(reason, msg string, warning bool) error

func (f recorderFunc) Record(_ context.Context, reason, msg string, warning bool) error {
	return f(reason, msg, warning)
}

func TestRecord(t *testing.T) {
	logs := &testenv.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	var got []string
	ok := recorderFunc(func(reason, msg string, warning bool) error {
		got = append(got, fmt.Sprintf("%s %v %s", reason, warning, msg))
		return nil
	})
	record(t.Context(), log, ok, kube.ReasonBackupFailed, "backup of x failed", true)
	if len(got) != 1 || got[0] != kube.ReasonBackupFailed+" true backup of x failed" {
		t.Fatalf("recorded %q", got)
	}
	record(t.Context(), log, nil, kube.ReasonBackupSucceeded, "not in Kubernetes", false) // no recorder: nothing to do
	denied := recorderFunc(func(string, string, bool) error { return errors.New("events is forbidden") })
	record(t.Context(), log, denied, kube.ReasonBackupSucceeded, "backup", false)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "events is forbidden") {
		t.Fatalf("a failed Event is not a warning:\n%s", logs)
	}
}

func TestGroupTopology(t *testing.T) {
	pod := func(name string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	}
	pods := []corev1.Pod{pod("redis-master-0"), pod("redis-replicas-0"), pod("redis-replicas-1")}
	roles := []kube.Role{{Master: true, Offset: 1000}, {LinkUp: true, IOSecondsAgo: 1, Offset: 990}, {LinkUp: true, IOSecondsAgo: 0, Offset: 1000}}
	tp := groupTopology(pods, roles, 1, "replica")
	if tp == nil || tp.Master != "ns/redis-master-0" || tp.Chosen != "ns/redis-replicas-0" || tp.ChosenRole != "replica" || tp.Offset != 990 ||
		tp.MasterOffset != 1000 || len(tp.Replicas) != 2 || !strings.Contains(tp.Reason, "10 bytes behind the master), as prefer: replica asks") {
		t.Errorf("replica chosen: %+v", tp)
	}
	tp = groupTopology(pods, roles, 0, "")
	if tp == nil || tp.ChosenRole != "master" || !strings.Contains(tp.Reason, "prefer: master, the default") {
		t.Errorf("master chosen: %+v", tp)
	}
	if tp := groupTopology(pods[:1], roles[:1], 0, ""); tp != nil {
		t.Errorf("a lone master has topology %+v, want none", tp)
	}
}

// TestBackupTimeoutSaysSo: a backup that runs into its target's timeout
// says which timeout ended it and what to change, not only "context
// deadline exceeded", and stores nothing. Redis waits 5 s before the
// snapshot (repl-diskless-sync-delay); the timeout is far shorter.
func TestBackupTimeoutSaysSo(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"repl-diskless-sync yes", "repl-diskless-sync-delay 5"}})
	repo := openRepo(t)
	target := &config.Target{Name: "slow", Redis: r.URL(), Source: config.SourceReplication, Timeout: 200 * time.Millisecond}
	_, err := clusterApp().Backup(t.Context(), target, repo, zstd(t), nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "the target's timeout of 200ms (timeout, --timeout)") {
		t.Fatalf("Backup = %v, want a deadline naming the target's timeout", err)
	}
	requireEmpty(t, repo)
}
