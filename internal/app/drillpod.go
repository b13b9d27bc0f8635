package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/storage"
)

// drillPodPlan is the scratch pod a drill of a target in Kubernetes runs
// in (drill.runner pod).
type drillPodPlan struct {
	kc      *kube.Client
	pod     *corev1.Pod
	from    string   // the target's pod it copies, ns/name
	modules []string // the modules its server loads, and from where
}

// planDrillPod checks the drill's permissions in the target's namespace
// and builds its scratch pod from one pod of the target and the redis.conf
// files it mounts from ConfigMaps, read through the API server only: the
// drill never connects to the target's Redis.
func (a *App) planDrillPod(ctx context.Context, t *config.Target, m *storage.Manifest) (*drillPodPlan, error) {
	if t.Kubernetes == nil {
		return nil, fmt.Errorf("drill.runner pod: target %s has no kubernetes block to take the image from", t.Name)
	}
	if a.Kube == nil {
		return nil, errors.New("drill.runner pod: no Kubernetes client configured")
	}
	kc, err := a.Kube.Client()
	if err != nil {
		return nil, err
	}
	spec := SpecOf(t.Kubernetes)
	if spec.Namespace == "" {
		if spec.Namespace, err = a.Kube.Namespace(); err != nil {
			return nil, err
		}
	}
	if err := kc.Check(ctx, kube.DrillPermissions(spec.Namespace, spec)); err != nil {
		return nil, fmt.Errorf("a drill in a scratch pod: %w", err)
	}
	pods, err := kc.Candidates(ctx, spec)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("no pod of %s to take the scratch pod's image from", spec.Describe())
	}
	src := &pods[0]
	container, _, err := kube.RedisContainer(src, spec.Container)
	if err != nil {
		return nil, err
	}
	confs, err := kc.MountedConf(ctx, src, container)
	if err != nil {
		return nil, err
	}
	p, err := kube.DrillPod(src, container, kube.DrillPodOptions{Target: t.Name, Databases: databases(m), Timeout: t.Drill.TimeoutOrDefault(), Confs: confs})
	if err != nil {
		return nil, err
	}
	return &drillPodPlan{kc: kc, pod: p, from: src.Namespace + "/" + src.Name, modules: kube.DrillModules(src, container, confs)}, nil
}

// podScratch is a running scratch pod, port-forwarded, as a scratchServer.
type podScratch struct {
	scr    *kube.Scratch
	fwd    *kube.Forward
	cancel context.CancelFunc
	exited chan struct{}
	mu     sync.Mutex
	err    error
	log    func(msg string, args ...any)
}

// startDrillPod creates the plan's pod (deleting leftovers of earlier
// drills older than the drill's timeout), streams file into it and
// port-forwards to its server. The returned podScratch, when not nil,
// must be stopped whatever happens: that deletes the pod.
func (a *App) startDrillPod(ctx context.Context, plan *drillPodPlan, file string, t *config.Target) (*podScratch, error) {
	scr, err := plan.kc.StartDrillPod(ctx, plan.pod, t.Drill.TimeoutOrDefault())
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ps := &podScratch{scr: scr, cancel: cancel, exited: make(chan struct{}), log: a.Log.With("target", t.Name).Warn}
	if _, err := scr.WaitRunning(ctx); err != nil {
		return ps, exitedFailure(err)
	}
	f, err := os.Open(file)
	if err != nil {
		return ps, fmt.Errorf("read the restored file: %w", err)
	}
	defer f.Close()
	if err := scr.StreamFile(ctx, f); err != nil {
		return ps, exitedOr(ctx, scr, err)
	}
	if err := scr.WaitListening(ctx); err != nil {
		if exit := scr.ExitError(ctx); exit != nil {
			return ps, exitedFailure(exit)
		}
		ps.log("could not see the scratch server listen; trying to reach it all the same", "error", err.Error())
	}
	if ps.fwd, err = scr.Forward(ctx); err != nil {
		return ps, exitedOr(ctx, scr, err)
	}
	go ps.watch(wctx)
	return ps, exitedOr(ctx, scr, ps.waitAnswering(ctx))
}

// exitedOr returns err, or the scratch server's exit when it has exited
// (a module it cannot load, a file it does not load): that, not a failed
// exec or port-forward into a stopped pod, is the reason. The kubelet
// reports an exit some seconds late, so it is given up to 10s to.
func exitedOr(ctx context.Context, scr *kube.Scratch, err error) error {
	if err == nil || errors.Is(err, drill.ErrFailed) {
		return err
	}
	for range 10 {
		if exit := scr.ExitError(ctx); exit != nil {
			return exitedFailure(exit)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
	return err
}

// waitAnswering waits until the pod's server answers through the forward
// (it starts once the file is complete): loading counts as answering. A
// port-forward ends at the first connection the pod refuses, so each
// refused attempt is retried through a new one.
func (p *podScratch) waitAnswering(ctx context.Context) error {
	for {
		c := redis.New(redis.Options{Addr: p.fwd.Addr})
		_, err := c.Info(ctx, "persistence")
		c.Close()
		if err == nil || errors.Is(err, redis.ErrLoading) {
			return nil
		}
		select {
		case <-p.exited:
			return exitedFailure(p.ExitError())
		case <-ctx.Done():
			return fmt.Errorf("wait for the scratch pod's server to start: %w (last: %w)", context.Cause(ctx), err)
		case <-time.After(500 * time.Millisecond):
		}
		_ = p.fwd.Close()
		fwd, ferr := p.scr.Forward(ctx)
		if ferr != nil {
			return ferr
		}
		p.fwd = fwd
	}
}

// exitedFailure makes a scratch server's exit fail the drill (the backup
// did not load), other errors not.
func exitedFailure(err error) error {
	if errors.Is(err, kube.ErrScratchExited) {
		return fmt.Errorf("%w: %w", drill.ErrFailed, err)
	}
	return err
}

func (p *podScratch) watch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		if err := p.scr.ExitError(ctx); err != nil {
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			close(p.exited)
			return
		}
	}
}

func (p *podScratch) Exited() <-chan struct{} { return p.exited }

func (p *podScratch) ExitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// stop closes the forward and deletes the pod.
func (p *podScratch) stop() {
	p.cancel()
	if p.fwd != nil {
		_ = p.fwd.Close()
	}
	if err := p.scr.Delete(); err != nil {
		p.log("the drill's scratch pod is left behind: the next drill deletes it", "error", err.Error())
	}
}
