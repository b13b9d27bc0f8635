package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels of a drill's scratch pod: a later drill deletes leftovers (a
// killed rdbak) found by them.
const (
	LabelDrillScratch  = "rdbak.io/drill-scratch" // value: "true"
	LabelDrillTarget   = "rdbak.io/drill-target"  // the target's name, when it is a valid label value
	drillDir           = "/rdbak-drill"
	drillFile          = "dump.rdb"
	drillContainerName = "redis"
)

// DrillPodOptions shapes a drill's scratch pod.
type DrillPodOptions struct {
	Target    string        // target name, for the label and the pod name
	Databases int           // databases setting; 0 for 16
	Timeout   time.Duration // the drill's timeout: the pod's activeDeadlineSeconds
	// Confs are the redis.conf files src's container mounts
	// (Client.MountedConf): their loadmodule and maxmemory are kept.
	Confs []ConfFile
}

// DrillPod returns the scratch pod of a drill of the Redis in container
// of src: src's image (and pull secrets, security context and resource
// limits), on an emptyDir, with no ServiceAccount token, no persistence
// and no Service, listening on loopback only. Its command waits for the
// RDB to be streamed in (StreamDrillFile) and then starts redis-server on
// it; the maxmemory and loadmodule options of src's container (its
// arguments, a shell command's words, the redis.conf files of o.Confs) are
// kept so that the scratch server loads what the target loads. Nothing
// else of the target's is mounted: a module read from one of its volumes
// is missing, as it would be in a fresh pod of the image.
func DrillPod(src *corev1.Pod, container string, o DrillPodOptions) (*corev1.Pod, error) {
	var c *corev1.Container
	for i := range src.Spec.Containers {
		if src.Spec.Containers[i].Name == container {
			c = &src.Spec.Containers[i]
		}
	}
	if c == nil {
		return nil, fmt.Errorf("pod %s/%s has no container %q", src.Namespace, src.Name, container)
	}
	if c.Image == "" {
		return nil, fmt.Errorf("container %s of pod %s/%s has no image", container, src.Namespace, src.Name)
	}
	dbs := o.Databases
	if dbs <= 0 {
		dbs = 16
	}
	args := []string{"--dir", drillDir, "--dbfilename", drillFile, "--save", "''", "--appendonly", "no",
		"--port", "6379", "--bind", "127.0.0.1", "--databases", strconv.Itoa(dbs)}
	for _, opt := range containerOptions(src, container, o.Confs) {
		args = append(args, "--"+opt.Name)
		for _, v := range opt.Values {
			args = append(args, shellQuote(v))
		}
	}
	script := fmt.Sprintf("while [ ! -f %s/%s ]; do sleep 1; done; exec redis-server %s", drillDir, drillFile, strings.Join(args, " "))
	no := false
	labels := map[string]string{LabelDrillScratch: "true", "app.kubernetes.io/managed-by": "rdbak"}
	if validLabelValue(o.Target) {
		labels[LabelDrillTarget] = o.Target
	}
	prefix := "rdbak-drill-"
	if validLabelValue(o.Target) && len(o.Target) <= 40 {
		prefix += strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(o.Target, "_", "-"), ".", "-")) + "-"
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix, Namespace: src.Namespace, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			EnableServiceLinks:           &no,
			ImagePullSecrets:             src.Spec.ImagePullSecrets,
			SecurityContext:              src.Spec.SecurityContext,
			Containers: []corev1.Container{{
				Name:            drillContainerName,
				Image:           c.Image,
				ImagePullPolicy: c.ImagePullPolicy,
				Command:         []string{"sh", "-c", script},
				Resources:       c.Resources,
				SecurityContext: c.SecurityContext,
				VolumeMounts:    []corev1.VolumeMount{{Name: "data", MountPath: drillDir}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
	if o.Timeout > 0 {
		s := int64(o.Timeout / time.Second)
		p.Spec.ActiveDeadlineSeconds = &s
	}
	return p, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func validLabelValue(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || i == len(s)-1 || !strings.ContainsRune("-_.", r)) {
			return false
		}
	}
	return true
}

// DrillPermissions lists what a drill in a scratch pod in ns needs: read
// the target's pod and the ConfigMaps it mounts (a redis.conf's modules),
// create, watch and delete the scratch pod, exec into it to stream the
// backup in and port-forward to it for the checks.
func DrillPermissions(ns string, s Spec) []Permission {
	ps := BackupPermissions(ns, s, true, true)
	return append(ps,
		Permission{Resource: "configmaps", Verb: "get", Namespace: ns},
		Permission{Resource: "pods", Verb: "create", Namespace: ns},
		Permission{Resource: "pods", Verb: "delete", Namespace: ns})
}

// Scratch is a drill's running scratch pod.
type Scratch struct {
	c         *Client
	Namespace string
	Name      string
}

// StartDrillPod deletes leftover scratch pods in p's namespace older than
// maxAge, then creates p. The caller must Delete the returned Scratch
// whatever happens, also when an error is returned with it.
func (c *Client) StartDrillPod(ctx context.Context, p *corev1.Pod, maxAge time.Duration) (*Scratch, error) {
	c.collectDrillPods(ctx, p.Namespace, maxAge)
	created, err := c.API.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create the drill's scratch pod in namespace %s: %w", p.Namespace, err)
	}
	return &Scratch{c: c, Namespace: created.Namespace, Name: created.Name}, nil
}

// collectDrillPods deletes scratch pods older than maxAge: left by a drill
// that was killed before it could delete its own. Best effort.
func (c *Client) collectDrillPods(ctx context.Context, ns string, maxAge time.Duration) {
	list, err := c.API.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: LabelDrillScratch + "=true"})
	if err != nil {
		return
	}
	for _, p := range list.Items {
		if time.Since(p.CreationTimestamp.Time) > maxAge {
			_ = c.API.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{})
		}
	}
}

// Delete deletes the scratch pod at once (grace period 0), with its own
// deadline so that it runs also after ctx of the drill was cancelled.
func (s *Scratch) Delete() error {
	if s == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	zero := int64(0)
	err := s.c.API.CoreV1().Pods(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete the drill's scratch pod %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// WaitRunning waits until the scratch pod's container runs. A pod that
// cannot start (image, scheduling) fails with its state.
func (s *Scratch) WaitRunning(ctx context.Context) (*corev1.Pod, error) {
	for {
		p, err := s.c.API.CoreV1().Pods(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("read the drill's scratch pod %s/%s: %w", s.Namespace, s.Name, err)
		}
		if err := s.exited(p); err != nil {
			return nil, err
		}
		if p.Status.Phase == corev1.PodRunning {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Running != nil {
					return p, nil
				}
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && (strings.Contains(w.Reason, "ImagePull") || w.Reason == "InvalidImageName" || w.Reason == "CreateContainerConfigError") {
				return nil, fmt.Errorf("the drill's scratch pod %s/%s cannot start: %s: %s", s.Namespace, s.Name, w.Reason, w.Message)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the drill's scratch pod %s/%s to run (phase %s): %w", s.Namespace, s.Name, p.Status.Phase, context.Cause(ctx))
		case <-time.After(s.c.every(time.Second)):
		}
	}
}

// ErrScratchExited is wrapped by the error of a scratch pod whose server
// exited.
var ErrScratchExited = errors.New("the scratch server exited")

// exited returns an error when p's server has exited, with the end of its
// log.
func (s *Scratch) exited(p *corev1.Pod) error {
	for _, cs := range p.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			return fmt.Errorf("%w (exit code %d, %s); its log ends:\n%s", ErrScratchExited, t.ExitCode, t.Reason, s.logTail())
		}
	}
	if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
		return fmt.Errorf("%w (pod %s: %s); its log ends:\n%s", ErrScratchExited, p.Status.Phase, p.Status.Reason, s.logTail())
	}
	return nil
}

// ExitError returns an error wrapping ErrScratchExited when the scratch
// server has exited, nil while it runs (or when the API cannot tell).
func (s *Scratch) ExitError(ctx context.Context) error {
	p, err := s.c.API.CoreV1().Pods(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return s.exited(p)
}

func (s *Scratch) logTail() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := int64(20)
	b, err := s.c.API.CoreV1().Pods(s.Namespace).GetLogs(s.Name, &corev1.PodLogOptions{Container: drillContainerName, TailLines: &n}).DoRaw(ctx)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return strings.TrimRight(string(b), "\n")
}

// StreamFile copies r into the scratch pod as the RDB its server waits
// for: under a temporary name first, renamed when complete, so that the
// server never starts on part of it.
func (s *Scratch) StreamFile(ctx context.Context, r io.Reader) error {
	cmd := []string{"sh", "-c", fmt.Sprintf("cat > %[1]s/.%[2]s.part && mv %[1]s/.%[2]s.part %[1]s/%[2]s", drillDir, drillFile)}
	var stderr syncBuffer
	err := s.c.Exec(ctx, ExecTarget{Namespace: s.Namespace, Pod: s.Name, Container: drillContainerName, AllowSPDY: true}, cmd, r, io.Discard, &stderr)
	if err != nil {
		return fmt.Errorf("stream the backup into the scratch pod %s/%s: %w", s.Namespace, s.Name, withStderr(err, stderr.String()))
	}
	return nil
}

// WaitListening waits, inside the pod, until its server listens (Redis
// listens before it loads), so that the port-forward's first connection
// is not refused. Best effort: an image without grep, or a server that
// has not started within 30s, returns an error the caller may ignore.
func (s *Scratch) WaitListening(ctx context.Context) error {
	// 0100007F:18EB is 127.0.0.1:6379; state 0A is LISTEN.
	script := `command -v grep >/dev/null || exit 2; i=0; while [ $i -lt 30 ]; do grep -q ':18EB 00000000:0000 0A' /proc/net/tcp && exit 0; sleep 1; i=$((i+1)); done; exit 1`
	return s.c.Exec(ctx, ExecTarget{Namespace: s.Namespace, Pod: s.Name, Container: drillContainerName, AllowSPDY: true}, []string{"sh", "-c", script}, nil, io.Discard, io.Discard)
}

// Forward port-forwards to the scratch server.
func (s *Scratch) Forward(ctx context.Context) (*Forward, error) {
	return s.c.PortForward(ctx, s.Namespace, s.Name, 6379)
}
