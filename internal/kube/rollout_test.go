package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/kubeapi/kubeapitest"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/rdbak/rdbak/restore"
)

var (
	stsGVR = appsv1.SchemeGroupVersion.WithResource("statefulsets")
	podGVR = corev1.SchemeGroupVersion.WithResource("pods")
)

var redisLabels = map[string]string{"app": "redis"}

// redisPod is a Ready pod of StatefulSet redis with its data on a PVC
// mounted at /data with a subPath.
func redisPod(name string) *corev1.Pod {
	p := readyPod(name, redisLabels)
	p.Spec = corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:         "redis",
			Image:        "redis:7.4",
			VolumeMounts: []corev1.VolumeMount{{Name: "redis-data", MountPath: "/data", SubPath: "redis"}},
		}},
		Volumes: []corev1.Volume{{Name: "redis-data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-" + name},
		}}},
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "redis", Ready: true, RestartCount: 2}}
	return controlled(p, "StatefulSet", "redis")
}

// cluster is a fake clientset that plays the StatefulSet controller for
// StatefulSet redis (its scale subresource creates or deletes Ready pods at
// once) and the kubelet for created pods (they run). It logs what rdbak
// does in events.
type cluster struct {
	cs     *fake.Clientset
	events []string
	// failScale is the number of scale updates to refuse first.
	failScale int
	// started adjusts the status of a pod rdbak creates; nil: Running.
	started func(p *corev1.Pod)
	created int
	// finish settles the pods of the last scale once settle more pod
	// Lists have passed.
	finish []func() error
	settle int
}

func newCluster(t *testing.T, replicas int32) *cluster {
	t.Helper()
	objs := []runtime.Object{statefulSet("redis", replicas, redisLabels)}
	for i := range replicas {
		objs = append(objs, redisPod(fmt.Sprintf("redis-%d", i)))
	}
	k := &cluster{cs: fake.NewClientset(objs...)}
	tr := k.cs.Tracker()
	k.cs.PrependReactor("patch", "statefulsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		k.events = append(k.events, "patch "+string(a.(k8stesting.PatchAction).GetPatch()))
		return false, nil, nil
	})
	k.cs.PrependReactor("update", "statefulsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "scale" {
			return false, nil, nil
		}
		s := a.(k8stesting.UpdateAction).GetObject().(*autoscalingv1.Scale)
		k.events = append(k.events, fmt.Sprintf("scale %d", s.Spec.Replicas))
		if k.failScale > 0 {
			k.failScale--
			return true, nil, apierrors.NewForbidden(stsGVR.GroupResource(), s.Name, errors.New("denied by test"))
		}
		obj, err := tr.Get(stsGVR, testNS, s.Name)
		if err != nil {
			return true, nil, err
		}
		sts := obj.(*appsv1.StatefulSet).DeepCopy()
		sts.Spec.Replicas = &s.Spec.Replicas
		if err := tr.Update(stsGVR, sts, testNS); err != nil {
			return true, nil, err
		}
		// Pods come up not Ready, or start terminating, and settle at the
		// second List after: a wait that does not wait sees them unsettled.
		k.settle, k.finish = 1, nil
		for i := range int32(10) {
			name := fmt.Sprintf("redis-%d", i)
			obj, err := tr.Get(podGVR, testNS, name)
			switch exists := err == nil; {
			case i < s.Spec.Replicas && !exists:
				p := redisPod(name)
				p.Status.Conditions[0].Status = corev1.ConditionFalse
				if err := tr.Create(podGVR, p, testNS); err != nil {
					return true, nil, err
				}
				k.finish = append(k.finish, func() error { return tr.Update(podGVR, redisPod(name), testNS) })
			case i >= s.Spec.Replicas && exists:
				p := obj.(*corev1.Pod).DeepCopy()
				now := metav1.Now()
				p.DeletionTimestamp = &now
				if err := tr.Update(podGVR, p, testNS); err != nil {
					return true, nil, err
				}
				k.finish = append(k.finish, func() error { return tr.Delete(podGVR, testNS, name) })
			}
		}
		return true, s, nil
	})
	k.cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod).DeepCopy()
		if p.Name == "" {
			k.created++
			p.Name = p.GenerateName + strconv.Itoa(k.created)
		}
		p.Status.Phase = corev1.PodRunning
		if k.started != nil {
			k.started(p)
		}
		k.events = append(k.events, "create pod "+p.Name)
		if err := tr.Create(podGVR, p, testNS); err != nil {
			return true, nil, err
		}
		return true, p, nil
	})
	k.cs.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if k.settle > 0 {
			k.settle--
			return false, nil, nil
		}
		for _, f := range k.finish {
			if err := f(); err != nil {
				return true, nil, err
			}
		}
		k.finish = nil
		return false, nil, nil
	})
	k.cs.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		k.events = append(k.events, "delete pod "+a.(k8stesting.DeleteAction).GetName())
		return false, nil, nil
	})
	return k
}

// offline returns an Offline restore of StatefulSet redis, found as the
// restore command finds it, with no actions or events logged yet.
func (k *cluster) offline(t *testing.T, ex Executor) *Offline {
	t.Helper()
	c := &Client{API: kubeapitest.Wrap(k.cs), Executor: ex, PollInterval: time.Millisecond}
	p, err := k.cs.CoreV1().Pods(testNS).Get(t.Context(), "redis-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.OwnerOf(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	k.cs.ClearActions()
	return &Offline{
		Client: c, Workload: w, Pod: p, Mount: DataVolume(p, "redis", "/data"),
		Image: "ghcr.io/rdbak/rdbak:test", Timeout: 5 * time.Second,
		Redis: &fakeRedis{log: &k.events, save: "3600 1"},
	}
}

// state is what a restore leaves behind on the StatefulSet and its pods.
type state struct {
	Replicas    int32
	Annotation  string
	RedisPods   int // terminating or not
	RedisReady  int
	RestorePods int
}

// state reads the tracker, not the clientset, so as not to advance the
// fake controller.
func (k *cluster) state(t *testing.T) state {
	t.Helper()
	obj, err := k.cs.Tracker().Get(stsGVR, testNS, "redis")
	if err != nil {
		t.Fatal(err)
	}
	sts := obj.(*appsv1.StatefulSet)
	s := state{Replicas: *sts.Spec.Replicas, Annotation: sts.Annotations[RestoreReplicasAnnotation]}
	obj, err = k.cs.Tracker().List(podGVR, corev1.SchemeGroupVersion.WithKind("Pod"), testNS)
	if err != nil {
		t.Fatal(err)
	}
	l := obj.(*corev1.PodList)
	for i := range l.Items {
		switch p := &l.Items[i]; {
		case p.Labels["app.kubernetes.io/component"] == "restore":
			s.RestorePods++
		case p.Labels["app"] == "redis":
			s.RedisPods++
			if Ready(p) {
				s.RedisReady++
			}
		}
	}
	return s
}

// fakeExec stands in for pods/exec: it reads stdin whole, logs the call,
// and answers with stdout, stderr and err.
type fakeExec struct {
	log    *[]string
	calls  []execCall
	stdout string
	stderr string
	err    error
	podErr map[string]error // exec in this pod fails with it
}

type execCall struct {
	target ExecTarget
	cmd    []string
	stdin  string
}

func (f *fakeExec) Exec(_ context.Context, t ExecTarget, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var in []byte
	if stdin != nil {
		var err error
		if in, err = io.ReadAll(stdin); err != nil {
			return err
		}
	}
	f.calls = append(f.calls, execCall{target: t, cmd: cmd, stdin: string(in)})
	if f.log != nil {
		*f.log = append(*f.log, "exec")
	}
	if err := f.podErr[t.Pod]; err != nil {
		return err
	}
	io.WriteString(stdout, f.stdout)
	io.WriteString(stderr, f.stderr)
	return f.err
}

// exitError is a command's non-zero exit, as remotecommand reports it.
type exitError int

func (e exitError) Error() string   { return fmt.Sprintf("command terminated with exit code %d", int(e)) }
func (e exitError) ExitStatus() int { return int(e) }

const (
	annotate   = `patch {"metadata":{"annotations":{"rdbak.io/restore-replicas":"3"}}}`
	unannotate = `patch {"metadata":{"annotations":{"rdbak.io/restore-replicas":null}}}`
)

// offlineStop is what Offline.Stop does: save points off, then the scale-down.
var offlineStop = []string{"CONFIG GET save", `CONFIG SET save ""`, annotate, "scale 0"}

func TestOfflineRestore(t *testing.T) {
	ctx := t.Context()
	k := newCluster(t, 3)
	want := restore.Installed{Path: "/data/dump.rdb", Size: 9, SHA256: "ab12", PreRestore: []string{"/data/dump.rdb.pre-restore"}}
	out, _ := json.Marshal(want)
	ex := &fakeExec{log: &k.events, stdout: string(out)}
	o := k.offline(t, ex)

	in := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
	if err := o.Stage(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	// Staged beside the running Redis: nothing scaled yet.
	if got, want := k.state(t), (state{Replicas: 3, RedisPods: 3, RedisReady: 3, RestorePods: 1}); got != want {
		t.Errorf("after Stage: %+v, want %+v", got, want)
	}
	if err := o.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got, want := k.state(t), (state{Replicas: 0, Annotation: "3", RestorePods: 1}); got != want {
		t.Errorf("after Stop: %+v, want %+v", got, want)
	}
	got, err := o.Commit(ctx, in)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("Commit = %+v, want %+v", *got, want)
	}
	if len(ex.calls) != 2 {
		t.Fatalf("%d execs, want 2", len(ex.calls))
	}
	args := []string{"--dir", "/data", "--dbfilename", "dump.rdb", "--size", "9", "--sha256", "ab12"}
	for i, phase := range []string{"stage", "commit"} {
		call := ex.calls[i]
		if want := (ExecTarget{Namespace: testNS, Pod: "rdbak-restore-1", Container: "restore"}); call.target != want {
			t.Errorf("%s: exec in %+v, want %+v", phase, call.target, want)
		}
		wantCmd := append([]string{"/rdbak", "receive", "--phase", phase}, args...)
		if !slices.Equal(call.cmd, wantCmd) {
			t.Errorf("exec %q, want %q", call.cmd, wantCmd)
		}
	}
	if ex.calls[0].stdin != "RDB-BYTES" || ex.calls[1].stdin != "" {
		t.Errorf("exec stdin %q, %q, want the body to the stage only", ex.calls[0].stdin, ex.calls[1].stdin)
	}

	if err := o.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	wantEvents := slices.Concat([]string{"create pod rdbak-restore-1", "exec"}, offlineStop, []string{"exec", "scale 3", unannotate, "delete pod rdbak-restore-1"})
	if !slices.Equal(k.events, wantEvents) {
		t.Errorf("restore did\n%q\nwant\n%q", k.events, wantEvents)
	}
	if got, want := k.state(t), (state{Replicas: 3, RedisPods: 3, RedisReady: 3}); got != want {
		t.Errorf("after Start: %+v, want %+v", got, want)
	}

	// Nothing is left to undo.
	before := len(k.cs.Actions())
	if err := o.Undo(ctx); err != nil {
		t.Fatalf("Undo after Start: %v", err)
	}
	if n := len(k.cs.Actions()) - before; n != 0 {
		t.Errorf("Undo after Start made %d API calls, want 0", n)
	}
}

// TestOfflineStageCompressed: a compressed stream is staged with its
// codec named, and a restore image too old to decode it says what to do.
func TestOfflineStageCompressed(t *testing.T) {
	k := newCluster(t, 1)
	ex := &fakeExec{}
	o := k.offline(t, ex)
	in := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12", Codec: "zstd"}
	if err := o.Stage(t.Context(), strings.NewReader("ZSTD"), in); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	want := []string{"/rdbak", "receive", "--phase", "stage", "--dir", "/data", "--dbfilename", "dump.rdb", "--size", "9", "--sha256", "ab12", "--codec", "zstd"}
	if len(ex.calls) != 1 || !slices.Equal(ex.calls[0].cmd, want) {
		t.Fatalf("execs %+v, want one of %q", ex.calls, want)
	}

	old := k.offline(t, &fakeExec{stderr: "Error: unknown flag: --codec\n", err: exitError(1)})
	err := old.Stage(t.Context(), strings.NewReader("ZSTD"), in)
	if err == nil || !strings.Contains(err.Error(), "give --restore-image the image of this rdbak's version") || !strings.Contains(err.Error(), "ghcr.io/rdbak/rdbak:test") {
		t.Fatalf("Stage with an old image: %v, want it to name the image and the flag to set", err)
	}
}

func TestOfflineRestorePod(t *testing.T) {
	ctx := t.Context()
	k := newCluster(t, 1)
	ex := &fakeExec{stdout: "{}"}
	o := k.offline(t, ex)
	o.Pod.Spec.NodeName = "node-7"
	if err := o.Stage(ctx, strings.NewReader(""), restore.Install{Dir: "/data", DBFilename: "dump.rdb"}); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	p, err := k.cs.CoreV1().Pods(testNS).Get(ctx, ex.calls[0].target.Pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "node-7" {
		t.Errorf("staging pod on node %q, want the Redis pod's node-7 (a ReadWriteOnce claim mounts only there)", p.Spec.NodeName)
	}
	wantVol := corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-redis-0"},
	}}
	if !reflect.DeepEqual(p.Spec.Volumes, []corev1.Volume{wantVol}) {
		t.Errorf("volumes %+v, want %+v", p.Spec.Volumes, wantVol)
	}
	if len(p.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(p.Spec.Containers))
	}
	c := p.Spec.Containers[0]
	wantMount := corev1.VolumeMount{Name: "data", MountPath: "/data", SubPath: "redis"}
	if !reflect.DeepEqual(c.VolumeMounts, []corev1.VolumeMount{wantMount}) {
		t.Errorf("mounts %+v, want %+v", c.VolumeMounts, wantMount)
	}
	if c.Image != o.Image || c.Name != "restore" {
		t.Errorf("container %s image %s, want restore image %s", c.Name, c.Image, o.Image)
	}
	if sc := c.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 0 || sc.RunAsNonRoot == nil || *sc.RunAsNonRoot {
		t.Errorf("security context %+v, want root (the Redis pod names no user)", sc)
	}
	if p.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restart policy %s, want Never", p.Spec.RestartPolicy)
	}
}

func TestRestorePodUser(t *testing.T) {
	uid := func(n int64) *int64 { return &n }
	tests := []struct {
		name          string
		pod           *corev1.PodSecurityContext
		container     *corev1.SecurityContext
		sidecar       *corev1.SecurityContext // a metrics exporter that does not mount the data
		wantContainer *int64                  // the restore container's runAsUser
		wantPod       *int64
	}{
		{name: "no user: root", wantContainer: uid(0)},
		{name: "pod user", pod: &corev1.PodSecurityContext{RunAsUser: uid(999)}, wantPod: uid(999)},
		{name: "container user", container: &corev1.SecurityContext{RunAsUser: uid(1001)}, wantContainer: uid(1001)},
		{name: "sidecar user ignored", sidecar: &corev1.SecurityContext{RunAsUser: uid(59000)}, wantContainer: uid(0)},
		{
			name:      "redis user, not the sidecar's",
			container: &corev1.SecurityContext{RunAsUser: uid(1001)}, sidecar: &corev1.SecurityContext{RunAsUser: uid(59000)},
			wantContainer: uid(1001),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := redisPod("redis-0")
			p.Spec.SecurityContext = tt.pod
			p.Spec.Containers[0].SecurityContext = tt.container
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "metrics", SecurityContext: tt.sidecar})
			o := &Offline{Workload: &Workload{Workload: restore.Workload{Kind: "StatefulSet", Namespace: testNS, Name: "redis"}}, Pod: p, Mount: DataVolume(p, "redis", "/data"), Image: "rdbak"}
			spec := o.restorePodSpec()
			if got := spec.Spec.Containers[0].SecurityContext.RunAsUser; !reflect.DeepEqual(got, tt.wantContainer) {
				t.Errorf("container runAsUser = %v, want %v", deref(got), deref(tt.wantContainer))
			}
			var got *int64
			if spec.Spec.SecurityContext != nil {
				got = spec.Spec.SecurityContext.RunAsUser
			}
			if !reflect.DeepEqual(got, tt.wantPod) {
				t.Errorf("pod runAsUser = %v, want %v", deref(got), deref(tt.wantPod))
			}
		})
	}
}

func deref(p *int64) string {
	if p == nil {
		return "unset"
	}
	return strconv.FormatInt(*p, 10)
}

func TestOfflineUndo(t *testing.T) {
	install := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
	stage := func(o *Offline, ctx context.Context) error {
		return o.Stage(ctx, strings.NewReader("RDB-BYTES"), install)
	}
	stageStop := func(o *Offline, ctx context.Context) error {
		if err := stage(o, ctx); err != nil {
			return err
		}
		return o.Stop(ctx)
	}
	discard := []string{"exec", "delete pod rdbak-restore-1"}
	tests := []struct {
		name    string
		setup   func(k *cluster, ex *fakeExec, o *Offline)
		run     func(o *Offline, ctx context.Context) error
		wantErr string
		// want are the events of run and then Undo, twice.
		want []string
		// wantPhases are the receive phases exec'd.
		wantPhases []string
	}{
		{
			name: "nothing done",
			run:  func(*Offline, context.Context) error { return nil },
		},
		{
			name: "stage fails: the staged file is discarded, nothing else changed",
			setup: func(_ *cluster, ex *fakeExec, _ *Offline) {
				ex.err, ex.stderr = exitError(65), "received 3 bytes, expected 9: nothing was replaced"
			},
			run:        stage,
			wantErr:    "stage in staging pod rdbak-restore-1: command terminated with exit code 65: received 3 bytes, expected 9: nothing was replaced",
			want:       slices.Concat([]string{"create pod rdbak-restore-1", "exec"}, discard),
			wantPhases: []string{"stage", "discard"},
		},
		{
			name:       "scale-down refused: save points back",
			setup:      func(k *cluster, _ *fakeExec, _ *Offline) { k.failScale = 1 },
			run:        stageStop,
			wantErr:    "scale statefulset prod/redis to 0",
			want:       slices.Concat([]string{"create pod rdbak-restore-1", "exec"}, offlineStop, discard, []string{"scale 3", unannotate}),
			wantPhases: []string{"stage", "discard"},
		},
		{
			name:       "stopped, not committed",
			run:        stageStop,
			want:       slices.Concat([]string{"create pod rdbak-restore-1", "exec"}, offlineStop, discard, []string{"scale 3", unannotate}),
			wantPhases: []string{"stage", "discard"},
		},
		{
			name: "save points back when not scaled",
			setup: func(k *cluster, _ *fakeExec, _ *Offline) {
				k.cs.PrependReactor("patch", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, errors.New("patch denied")
				})
			},
			run:        stageStop,
			wantErr:    "patch denied",
			want:       slices.Concat([]string{"create pod rdbak-restore-1", "exec"}, offlineStop[:2], discard, []string{`CONFIG SET save "3600 1"`}),
			wantPhases: []string{"stage", "discard"},
		},
		{
			name: "restore image cannot be pulled",
			setup: func(k *cluster, _ *fakeExec, _ *Offline) {
				k.started = func(p *corev1.Pod) {
					p.Status.Phase = corev1.PodPending
					p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "restore", State: corev1.ContainerState{
						Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "not found"},
					}}}
				}
			},
			run:     stage,
			wantErr: "set --restore-image",
			want:    []string{"create pod rdbak-restore-1", "delete pod rdbak-restore-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			k := newCluster(t, 3)
			ex := &fakeExec{log: &k.events, stdout: "{}"}
			o := k.offline(t, ex)
			if tt.setup != nil {
				tt.setup(k, ex, o)
			}
			err := tt.run(o, ctx)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("run: err = %v, want one containing %q", err, tt.wantErr)
			}
			ex.err = nil
			for i := range 2 {
				if err := o.Undo(ctx); err != nil {
					t.Fatalf("Undo #%d: %v", i+1, err)
				}
			}
			if !slices.Equal(k.events, tt.want) {
				t.Errorf("did\n%q\nwant\n%q", k.events, tt.want)
			}
			var phases []string
			for _, c := range ex.calls {
				phases = append(phases, c.cmd[3])
			}
			if !slices.Equal(phases, tt.wantPhases) {
				t.Errorf("receive phases %q, want %q", phases, tt.wantPhases)
			}
			if len(tt.want) == 0 {
				if a := k.cs.Actions(); len(a) != 0 {
					t.Errorf("%d API calls, want none; first: %s %s", len(a), a[0].GetVerb(), a[0].GetResource().Resource)
				}
			}
			// Undo does not wait for Ready.
			got := k.state(t)
			got.RedisReady = 0
			if want := (state{Replicas: 3, RedisPods: 3}); got != want {
				t.Errorf("after Undo: %+v, want %+v", got, want)
			}
		})
	}
}

// TestOfflineStopWithoutConfigSet: a Redis user without +config|set keeps
// its shutdown save (a longer stop, which writes dbfilename, not the staged
// file); the restore goes on and Undo sets nothing back.
func TestOfflineStopWithoutConfigSet(t *testing.T) {
	ctx := t.Context()
	k := newCluster(t, 3)
	o := k.offline(t, &fakeExec{log: &k.events, stdout: "{}"})
	o.Redis.(*fakeRedis).setErr = errors.New("NOPERM this user has no permissions to run the 'config|set' command")
	if err := o.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := o.Undo(ctx); err != nil {
		t.Fatalf("Undo: %v", err)
	}
	want := slices.Concat(offlineStop, []string{"scale 3", unannotate})
	if !slices.Equal(k.events, want) {
		t.Errorf("did\n%q\nwant\n%q", k.events, want)
	}
}

// TestOfflineDiscardThroughRedis: when the staging pod was killed mid-stream,
// Undo removes the staged files through the Redis container.
func TestOfflineDiscardThroughRedis(t *testing.T) {
	ctx := t.Context()
	k := newCluster(t, 1)
	ex := &fakeExec{log: &k.events, stdout: "{}"}
	o := k.offline(t, ex)
	o.Container = "redis"
	in := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
	if err := o.Stage(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
		t.Fatal(err)
	}
	ex.podErr = map[string]error{"rdbak-restore-1": errors.New("pod not found")}
	if err := o.Undo(ctx); err != nil {
		t.Fatalf("Undo: %v", err)
	}
	last := ex.calls[len(ex.calls)-1]
	want := []string{"rm", "-rf", "--", "/data/dump.rdb.rdbak-tmp"}
	if last.target.Pod != "redis-0" || last.target.Container != "redis" || !slices.Equal(last.cmd, want) {
		t.Errorf("last exec %q in %+v, want %q in the Redis container", last.cmd, last.target, want)
	}
	// Without a way in, the error names the file and says it is harmless.
	ex.podErr["redis-0"] = errors.New("no shell")
	o2 := k.offline(t, ex)
	o2.Container = "redis"
	ex.podErr["rdbak-restore-2"] = nil
	if err := o2.Stage(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
		t.Fatal(err)
	}
	ex.podErr["rdbak-restore-2"] = errors.New("pod not found")
	err := o2.Undo(ctx)
	if err == nil || !strings.Contains(err.Error(), "/data/dump.rdb.rdbak-tmp (Redis never loads it") {
		t.Errorf("Undo = %v, want the staged file named", err)
	}
}

// restarting is k.offline with the restart strategy, Redis 7: on SHUTDOWN
// NOSAVE the kubelet restarts the container of redis-0.
func (k *cluster) restarting(t *testing.T, ex Executor) (*Offline, *[]error) {
	t.Helper()
	o := k.offline(t, ex)
	r := o.Redis.(*fakeRedis)
	r.shutdown = restarter(k.cs, "redis-0")
	o.Restart = &InPlace{Client: o.Client, Namespace: testNS, Pod: "redis-0", Container: "redis", Redis: r, Version7: true, Timeout: 5 * time.Second}
	fellBack := &[]error{}
	o.Fallback = func(err error) { *fellBack = append(*fellBack, err) }
	return o, fellBack
}

// restartStop is what Offline.Stop does with Restart: check that the save
// points may be set, then turn every save off; Redis keeps serving.
var restartStop = []string{"CONFIG GET save", `CONFIG SET save "3600 1"`, "CONFIG GET save", `CONFIG SET save ""`,
	`CONFIG SET shutdown-on-sigterm "nosave"`, `CONFIG SET shutdown-on-sigint "nosave"`}

func restartCountOf(t *testing.T, k *cluster, pod string) int32 {
	t.Helper()
	obj, err := k.cs.Tracker().Get(podGVR, testNS, pod)
	if err != nil {
		t.Fatal(err)
	}
	return restartCount(obj.(*corev1.Pod).Status.ContainerStatuses, "redis")
}

// TestOfflineRestart: with Restart, the workload is never scaled: the
// files are swapped in from the staging pod under the running Redis with
// its saves off, and SHUTDOWN NOSAVE makes the kubelet restart it.
func TestOfflineRestart(t *testing.T) {
	ctx := t.Context()
	k := newCluster(t, 3)
	o, fellBack := k.restarting(t, &fakeExec{log: &k.events, stdout: `{"path":"/data/dump.rdb"}`})
	in := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
	if err := o.Stage(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if err := o.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got, want := k.state(t), (state{Replicas: 3, RedisPods: 3, RedisReady: 3, RestorePods: 1}); got != want {
		t.Errorf("after Stop: %+v, want %+v: Redis serves until Start", got, want)
	}
	if _, err := o.Commit(ctx, in); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := o.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	want := slices.Concat([]string{"create pod rdbak-restore-1", "exec"}, restartStop, []string{"exec", "delete pod rdbak-restore-1", "SHUTDOWN NOSAVE"})
	if !slices.Equal(k.events, want) {
		t.Errorf("restore did\n%q\nwant\n%q", k.events, want)
	}
	if got, want := k.state(t), (state{Replicas: 3, RedisPods: 3, RedisReady: 3}); got != want {
		t.Errorf("after Start: %+v, want %+v", got, want)
	}
	if n := restartCountOf(t, k, "redis-0"); n != 3 {
		t.Errorf("redis-0 restarted %d times, want 3 (2 before)", n)
	}
	if len(*fellBack) != 0 {
		t.Errorf("fell back to scaling: %v", *fellBack)
	}
	before := len(k.cs.Actions())
	if err := o.Undo(ctx); err != nil {
		t.Fatalf("Undo after Start: %v", err)
	}
	if n := len(k.cs.Actions()) - before; n != 0 {
		t.Errorf("Undo after Start made %d API calls, want 0", n)
	}
}

// TestOfflineRestartFallsBack: a Redis that refuses CONFIG SET or SHUTDOWN
// is scaled to zero and back instead, and the fallback says why.
func TestOfflineRestartFallsBack(t *testing.T) {
	in := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
	for _, tc := range []struct {
		name   string
		refuse func(*fakeRedis)
		stop   []string
		why    string
	}{
		{"CONFIG SET refused", func(r *fakeRedis) {
			r.setErr = errors.New("NOPERM this user has no permissions to run the 'config|set' command")
		},
			slices.Concat([]string{"CONFIG GET save", `CONFIG SET save "3600 1"`}, offlineStop), "NOPERM"},
		{"SHUTDOWN refused", func(r *fakeRedis) { r.shutdown = func() error { return errors.New("ERR unknown command 'SHUTDOWN'") } },
			slices.Concat(restartStop, []string{"exec", "delete pod rdbak-restore-1", "SHUTDOWN NOSAVE"}, offlineStop), "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			k := newCluster(t, 3)
			o, fellBack := k.restarting(t, &fakeExec{log: &k.events, stdout: `{"path":"/data/dump.rdb"}`})
			tc.refuse(o.Redis.(*fakeRedis))
			if err := o.Stage(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
				t.Fatal(err)
			}
			k.events = nil
			if err := o.Stop(ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if _, err := o.Commit(ctx, in); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if err := o.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
			got := strings.Join(k.events, "\n")
			if want := strings.Join(tc.stop, "\n"); !strings.Contains(got, want) {
				t.Errorf("restore did\n%s\nwant it to contain\n%s", got, want)
			}
			if !strings.Contains(got, "scale 3\n"+unannotate) {
				t.Errorf("restore did\n%s\nwant the workload scaled back", got)
			}
			if got, want := k.state(t), (state{Replicas: 3, RedisPods: 3, RedisReady: 3}); got != want {
				t.Errorf("after Start: %+v, want %+v", got, want)
			}
			if len(*fellBack) != 1 || !strings.Contains((*fellBack)[0].Error(), tc.why) {
				t.Errorf("fallback reasons %v, want one saying %q", *fellBack, tc.why)
			}
		})
	}
}

// TestOfflineRestartUndo: before the swap, Undo gives Redis its saves back;
// after it, it must not (the next save would write the old data over the
// restored files): it makes Redis exit without saving, as Start would
// have, or says how to finish.
func TestOfflineRestartUndo(t *testing.T) {
	in := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
	t.Run("before the swap", func(t *testing.T) {
		ctx := t.Context()
		k := newCluster(t, 3)
		o, _ := k.restarting(t, &fakeExec{log: &k.events, stdout: "{}"})
		if err := o.Stage(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
			t.Fatal(err)
		}
		if err := o.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		k.events = nil
		if err := o.Undo(ctx); err != nil {
			t.Fatalf("Undo: %v", err)
		}
		want := []string{"exec", "delete pod rdbak-restore-1", `CONFIG SET save "3600 1"`, `CONFIG SET shutdown-on-sigterm "default"`, `CONFIG SET shutdown-on-sigint "default"`}
		if !slices.Equal(k.events, want) {
			t.Errorf("Undo did\n%q\nwant\n%q", k.events, want)
		}
	})
	for _, refused := range []bool{false, true} {
		t.Run(fmt.Sprint("after the swap, SHUTDOWN refused ", refused), func(t *testing.T) {
			ctx := t.Context()
			k := newCluster(t, 3)
			o, _ := k.restarting(t, &fakeExec{log: &k.events, stdout: "{}"})
			if err := o.Stage(ctx, strings.NewReader("RDB-BYTES"), in); err != nil {
				t.Fatal(err)
			}
			if err := o.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := o.Commit(ctx, in); err != nil {
				t.Fatal(err)
			}
			if refused {
				o.Redis.(*fakeRedis).shutdown = func() error { return errors.New("NOPERM shutdown") }
			}
			k.events = nil
			err := o.Undo(ctx)
			if want := []string{"delete pod rdbak-restore-1", "SHUTDOWN NOSAVE"}; !slices.Equal(k.events, want) {
				t.Errorf("Undo did\n%q\nwant\n%q", k.events, want)
			}
			switch {
			case refused && (err == nil || !strings.Contains(err.Error(), "still runs on the old data with saves off: delete the pod")):
				t.Fatalf("Undo = %v, want it to say how to finish", err)
			case !refused && err != nil:
				t.Fatalf("Undo = %v", err)
			case !refused && restartCountOf(t, k, "redis-0") != 3:
				t.Errorf("Redis was not restarted on the installed files")
			}
		})
	}
}

// TestCommitNotStarted: a Commit whose exec the API server refused (the
// pod is gone) is certain nothing was swapped in; one that broke after it
// started is not.
func TestCommitNotStarted(t *testing.T) {
	install := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
	refused := &httpstream.UpgradeFailureError{Cause: errors.New(`pods "rdbak-restore-1" not found`)}
	for _, tt := range []struct {
		err        error
		notSwapped bool
	}{{refused, true}, {fmt.Errorf("exec: %w", refused), true}, {exitError(137), false}, {io.ErrUnexpectedEOF, false}} {
		k := newCluster(t, 3)
		ex := &fakeExec{stdout: "{}"}
		o := k.offline(t, ex)
		ip, ipex, _ := inPlace(t, true)
		commits := map[string]func() error{
			"offline": func() error {
				if err := o.Stage(t.Context(), strings.NewReader("RDB-BYTES"), install); err != nil {
					return err
				}
				ex.err = tt.err
				_, err := o.Commit(t.Context(), install)
				return err
			},
			"in place": func() error {
				if err := ip.Stage(t.Context(), strings.NewReader("RDB-BYTES"), install); err != nil {
					return err
				}
				if err := ip.Stop(t.Context()); err != nil {
					return err
				}
				ipex.err = tt.err
				_, err := ip.Commit(t.Context(), install)
				return err
			},
		}
		for name, commit := range commits {
			err := commit()
			if err == nil || !errors.Is(err, tt.err) {
				t.Fatalf("%s, exec error %v: Commit err = %v, want it wrapped", name, tt.err, err)
			}
			if got := errors.As(err, new(*restore.NotSwappedError)); got != tt.notSwapped {
				t.Errorf("%s, exec error %v: Commit err %q is a NotSwappedError: %v, want %v", name, tt.err, err, got, tt.notSwapped)
			}
		}
	}
}

// TestStagingPodQuota: a namespace whose ResourceQuota covers limits, with
// no LimitRange, refuses a staging pod without them. The error keeps the
// API server's reason and names the flags that give the pod resources;
// nothing is left changed; with resources the pod is created with them.
func TestStagingPodQuota(t *testing.T) {
	ctx := t.Context()
	install := restore.Install{Dir: "/data", DBFilename: "dump.rdb", Size: 9, SHA256: "ab12"}
	k := newCluster(t, 3)
	k.cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if _, ok := p.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory]; ok {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(podGVR.GroupResource(), p.GenerateName, errors.New("failed quota: compute: must specify limits.memory for: restore"))
	})
	ex := &fakeExec{log: &k.events, stdout: "{}"}
	o := k.offline(t, ex)
	err := o.Stage(ctx, strings.NewReader("RDB-BYTES"), install)
	if err == nil || !strings.Contains(err.Error(), "must specify limits.memory") || !strings.Contains(err.Error(), "--restore-limits") {
		t.Fatalf("Stage without resources: %v, want the quota's refusal and the flags to set", err)
	}
	if err := o.Undo(ctx); err != nil {
		t.Fatalf("Undo: %v", err)
	}
	if got := k.state(t); got != (state{Replicas: 3, RedisPods: 3, RedisReady: 3}) {
		t.Errorf("after the refusal: %+v, want the StatefulSet as it was", got)
	}
	if len(ex.calls) != 0 {
		t.Errorf("%d execs after the refusal, want none", len(ex.calls))
	}

	o = k.offline(t, ex)
	limits := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}
	o.Resources = corev1.ResourceRequirements{Limits: limits}
	if err := o.Stage(ctx, strings.NewReader("RDB-BYTES"), install); err != nil {
		t.Fatalf("Stage with limits: %v", err)
	}
	pods, err := k.cs.CoreV1().Pods(testNS).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=restore"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("staging pods: %v, err %v; want one", pods, err)
	}
	if got := pods.Items[0].Spec.Containers[0].Resources.Limits; !got.Memory().Equal(limits[corev1.ResourceMemory]) {
		t.Errorf("staging pod limits %v, want %v", got, limits)
	}
}

// TestTryStaging: the plan's trial of the staging pod is a server-side dry
// run that creates nothing; a quota's refusal is the pod's own refusal,
// with the flags that give it resources; a webhook that cannot take part
// in a dry run refuses nothing.
func TestTryStaging(t *testing.T) {
	ctx := t.Context()
	k := newCluster(t, 1)
	var dryRuns [][]string
	k.cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		dryRuns = append(dryRuns, a.(k8stesting.CreateActionImpl).GetCreateOptions().DryRun)
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		res := p.Spec.Containers[0].Resources
		switch {
		case res.Limits.Memory().IsZero():
			return true, nil, apierrors.NewForbidden(podGVR.GroupResource(), p.GenerateName, errors.New("failed quota: compute: must specify limits.memory for: restore"))
		case !res.Limits.Cpu().IsZero():
			return true, nil, apierrors.NewInternalError(errors.New(`admission webhook "audit.example.com" does not support dry run`))
		}
		return true, p, nil // admitted; the fake would store it, a dry run does not
	})
	o := k.offline(t, &fakeExec{log: &k.events})
	err := o.TryStaging(ctx)
	if !IsStagingRefused(err) || !strings.Contains(err.Error(), "must specify limits.memory") || !strings.Contains(err.Error(), "--restore-limits") {
		t.Fatalf("TryStaging without limits: %v, want the quota's refusal and the flags to set", err)
	}
	o.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}
	if err := o.TryStaging(ctx); err != nil {
		t.Fatalf("TryStaging with limits: %v", err)
	}
	o.Resources.Limits[corev1.ResourceCPU] = resource.MustParse("1")
	if err := o.TryStaging(ctx); err == nil || IsStagingRefused(err) {
		t.Fatalf("TryStaging past a webhook without dry run: %v, want an error that is no refusal", err)
	}
	for i, d := range dryRuns {
		if !slices.Equal(d, []string{metav1.DryRunAll}) {
			t.Errorf("create %d: dryRun %q, want [All]", i, d)
		}
	}
	if len(dryRuns) != 3 {
		t.Errorf("%d creates, want 3", len(dryRuns))
	}
	if got := k.state(t); got != (state{Replicas: 1, RedisPods: 1, RedisReady: 1}) {
		t.Errorf("after the trials: %+v, want the StatefulSet as it was", got)
	}
}
