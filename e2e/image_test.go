//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/internal/testcluster"
)

// imageFile is what the image's layer records for one path.
type imageFile struct {
	typ  byte
	mode int64
}

// wantImageFiles is the whole root filesystem of the rdbak image, as
// hack/image.sh and the Dockerfile make it: the binary, CA certificates,
// passwd and group, an empty /tmp. Any other entry (a shell above all) fails.
var wantImageFiles = map[string]imageFile{
	"etc":                               {tar.TypeDir, 0o755},
	"etc/group":                         {tar.TypeReg, 0o644},
	"etc/passwd":                        {tar.TypeReg, 0o644},
	"etc/ssl":                           {tar.TypeDir, 0o755},
	"etc/ssl/certs":                     {tar.TypeDir, 0o755},
	"etc/ssl/certs/ca-certificates.crt": {tar.TypeReg, 0o644},
	"rdbak":                             {tar.TypeReg, 0o755},
	"tmp":                               {tar.TypeDir, 0o1777},
}

// imageConfig is the part of the OCI image config the Dockerfile repeats.
type imageConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		User       string
		Entrypoint []string
		Cmd        []string
		WorkingDir string
		Env        []string
	} `json:"config"`
}

// TestImage builds rdbak's image with hack/image.sh --import, checks every
// file and setting in it, and runs it on the testbed as rdbak is meant to
// run in a cluster: as the image's own non-root user, read-only root
// filesystem, no capabilities, RuntimeDefault seccomp, an emptyDir at /tmp.
func TestImage(t *testing.T) {
	c := testcluster.Connect(t)
	// A version of its own: the pod's output proves it runs this build.
	version := "e2e-" + strings.ToLower(rand.Text()[:8])
	ref, tarball := importImage(t, c, version) // removed after the namespace
	ns := c.NewNamespace(t)

	t.Run("layout", func(t *testing.T) { checkImageLayout(t, tarball, ref) })

	t.Run("version", func(t *testing.T) {
		out := runImagePod(t, ns, "version", imageContainer("rdbak", ref, "version"))
		if want := "rdbak " + version; !slices.Contains(logLines(out), want) {
			t.Errorf("rdbak version printed %q, want the line %q", out, want)
		}
	})

	t.Run("backup", func(t *testing.T) {
		ns.Apply(t, fmt.Sprintf(imageRedisPod, ns.RedisImage(t)))
		ip := ns.WaitPodReady(t, "redis").Status.PodIP
		const keys = 40
		mset := []string{"redis-cli", "mset"}
		for i := range keys {
			mset = append(mset, fmt.Sprintf("key:%d", i), fmt.Sprintf("value %d", i))
		}
		ns.Run(t, "redis", mset...)
		// The backup runs in the init container; the main one reads it back
		// from the same emptyDir and checks everything against the manifest.
		now := imageContainer("now", ref, "now", "--redis", "redis://"+ip+":6379", "--storage", "file:///tmp/b")
		verify := imageContainer("verify", ref, "verify", "latest", "--storage", "file:///tmp/b")
		out := runImagePod(t, ns, "backup", verify, now)
		ok := slices.ContainsFunc(logLines(out), func(l string) bool {
			return strings.HasPrefix(l, "OK ") && strings.Contains(l, fmt.Sprintf(", %d keys,", keys))
		})
		if !ok {
			t.Errorf("verify in the pod printed %q, want a line with OK and %d keys", out, keys)
		}
	})

	t.Run("timezone", func(t *testing.T) {
		// No /usr/share/zoneinfo in the image: CRON_TZ needs the zones
		// compiled in (cmd/rdbak imports time/tzdata).
		ns.Apply(t, imageConfigMap)
		out := runImagePod(t, ns, "config", imageContainer("rdbak", ref, "config", "validate", "/config/rdbak.yaml"))
		if want := "/config/rdbak.yaml: OK (1 target)"; !slices.Contains(logLines(out), want) {
			t.Errorf("config validate printed %q, want the line %q", out, want)
		}
	})

	t.Run("no-shell", func(t *testing.T) {
		sh := imageContainer("sh", ref)
		sh.Command = []string{"/bin/sh", "-c", "echo shell"}
		p := startImagePod(t, ns, "shell", sh)
		s := p.Status.ContainerStatuses
		if p.Status.Phase != corev1.PodFailed || len(s) != 1 || s[0].State.Terminated == nil {
			t.Fatalf("pod running /bin/sh: phase %s, container states %+v; want Failed, terminated", p.Status.Phase, s)
		}
		term := s[0].State.Terminated
		t.Logf("/bin/sh: exit %d, %s: %s", term.ExitCode, term.Reason, term.Message)
		if term.ExitCode == 0 || !strings.Contains(term.Message, "/bin/sh") {
			t.Errorf("/bin/sh exited %d (%s), want a start error naming /bin/sh", term.ExitCode, term.Message)
		}
	})
}

// importImage runs hack/image.sh --import for version against c's
// containerd and returns the image reference and its OCI tarball. The image
// is removed from the node when t ends: the testbed never collects images.
func importImage(t *testing.T, c *testcluster.Cluster, version string) (ref, tarball string) {
	t.Helper()
	tarball = filepath.Join(t.TempDir(), "rdbak.oci.tar")
	cmd := exec.CommandContext(t.Context(), "bash", "../hack/image.sh", "--import", "--version", version, "--output", tarball)
	cmd.Env = os.Environ()
	for _, k := range []string{"RDBAK_CACHE", "RDBAK_TESTBED_STATE"} {
		if v := c.Getenv(k); v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/image.sh --import: %v\n%s", err, stderr.Bytes())
	}
	ref = "rdbak.local/rdbak:" + version
	if got, want := strings.TrimSpace(string(out)), tarball+" "+ref; got != want {
		t.Fatalf("hack/image.sh printed %q, want %q", got, want)
	}
	t.Cleanup(func() {
		rm := exec.Command("ctr", "--address", c.Getenv("CONTAINERD_ADDRESS"), "-n", "k8s.io", "images", "rm", ref)
		if out, err := rm.CombinedOutput(); err != nil {
			t.Errorf("remove image %s from the node: %v\n%s", ref, err, out)
		}
	})
	return ref, tarball
}

// checkImageLayout reads the OCI layout tarball: one manifest tagged ref,
// the config the Dockerfile repeats, and a single layer holding exactly
// wantImageFiles, with a static binary, no shell and real CA certificates.
func checkImageLayout(t *testing.T, tarball, ref string) {
	blobs := readTar(t, tarball, nil, nil)
	var index struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	unmarshal(t, "index.json", blobs["index.json"], &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations["io.containerd.image.name"] != ref {
		t.Fatalf("index.json = %s, want one manifest named %s", blobs["index.json"], ref)
	}
	var manifest struct {
		Config struct{ Digest string }
		Layers []struct {
			MediaType, Digest string
			Size              int64
		}
	}
	unmarshal(t, "manifest", blob(t, blobs, index.Manifests[0].Digest), &manifest)
	if len(manifest.Layers) != 1 || manifest.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
		t.Fatalf("manifest layers %+v, want one tar+gzip layer", manifest.Layers)
	}

	var cfg imageConfig
	unmarshal(t, "image config", blob(t, blobs, manifest.Config.Digest), &cfg)
	ic := cfg.Config
	if cfg.OS != "linux" || cfg.Architecture != "amd64" || ic.User != "65532:65532" ||
		!slices.Equal(ic.Entrypoint, []string{"/rdbak"}) || len(ic.Cmd) != 0 || ic.WorkingDir != "/" {
		t.Errorf("image config %+v, want linux/amd64, User 65532:65532, Entrypoint [/rdbak], no Cmd, WorkingDir /", cfg)
	}
	for _, env := range []string{"TMPDIR=/tmp", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"} {
		if !slices.Contains(ic.Env, env) {
			t.Errorf("image Env %q lacks %s", ic.Env, env)
		}
	}

	layer, err := gzip.NewReader(bytes.NewReader(blob(t, blobs, manifest.Layers[0].Digest)))
	if err != nil {
		t.Fatalf("layer %s: %v", manifest.Layers[0].Digest, err)
	}
	got := map[string]imageFile{}
	files := readTar(t, manifest.Layers[0].Digest, layer, func(h *tar.Header) {
		name := strings.TrimSuffix(path.Clean(h.Name), "/")
		got[name] = imageFile{h.Typeflag, h.Mode}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("layer entry %s is owned by %d:%d, want 0:0", h.Name, h.Uid, h.Gid)
		}
	})
	for name, f := range got {
		if w, ok := wantImageFiles[name]; !ok {
			t.Errorf("layer holds %s (type %q, mode %o), which the image must not have", name, f.typ, f.mode)
		} else if f != w {
			t.Errorf("layer entry %s: type %q mode %o, want type %q mode %o", name, f.typ, f.mode, w.typ, w.mode)
		}
	}
	for name := range wantImageFiles {
		if _, ok := got[name]; !ok {
			t.Errorf("layer lacks %s", name)
		}
	}

	bin, err := elf.NewFile(bytes.NewReader(files["rdbak"]))
	if err != nil {
		t.Fatalf("/rdbak is not an ELF binary: %v", err)
	}
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("/rdbak has a %s program header: it is not a static binary", p.Type)
		}
	}
	passwd := string(files["etc/passwd"])
	if !strings.Contains(passwd, "\nnonroot:x:65532:65532:") || !strings.Contains(string(files["etc/group"]), "\nnonroot:x:65532:") {
		t.Errorf("passwd/group lack nonroot 65532:65532:\n%s%s", passwd, files["etc/group"])
	}
	for _, line := range strings.Split(strings.TrimSpace(passwd), "\n") {
		f := strings.Split(line, ":")
		if sh := f[len(f)-1]; files[strings.TrimPrefix(sh, "/")] != nil {
			t.Errorf("passwd gives %s the login shell %s, which exists in the image", f[0], sh)
		}
	}
	certs := 0
	for rest := files["etc/ssl/certs/ca-certificates.crt"]; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		certs++
	}
	if certs < 50 {
		t.Errorf("ca-certificates.crt holds %d PEM certificates; Debian's bundle has over 100", certs)
	}
	st, _ := os.Stat(tarball)
	t.Logf("%s: OCI tarball %d bytes, layer %d bytes gzipped; /rdbak %d bytes, %d CA certificates",
		ref, st.Size(), manifest.Layers[0].Size, len(files["rdbak"]), certs)
}

// readTar returns the regular files of the tar at r (or at the file named
// name when r is nil) by name, calling each (if not nil) on every header.
func readTar(t *testing.T, name string, r io.Reader, each func(*tar.Header)) map[string][]byte {
	t.Helper()
	if r == nil {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r = f
	}
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("read tar %s: %v", name, err)
		}
		if each != nil {
			each(h)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatalf("read %s from %s: %v", h.Name, name, err)
			}
			files[strings.TrimPrefix(h.Name, "./")] = b
		}
	}
}

func blob(t *testing.T, blobs map[string][]byte, digest string) []byte {
	t.Helper()
	b, ok := blobs["blobs/sha256/"+strings.TrimPrefix(digest, "sha256:")]
	if !ok {
		t.Fatalf("the OCI layout lacks blob %s", digest)
	}
	return b
}

func unmarshal(t *testing.T, what string, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v\n%s", what, err, data)
	}
}

// imageRedisPod is a Redis for the image's pod to back up over the pod
// network (the testbed has no cluster DNS: the test uses its IP).
const imageRedisPod = `
apiVersion: v1
kind: Pod
metadata: {name: redis}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: redis
    image: %s
    imagePullPolicy: Never
    command: [redis-server, --save, "", --appendonly, "no", --protected-mode, "no"]
    readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 1}
`

// imageConfigMap holds a config whose schedule names a time zone.
const imageConfigMap = `
apiVersion: v1
kind: ConfigMap
metadata: {name: rdbak}
data:
  rdbak.yaml: |
    storage: file:///tmp/b
    targets:
    - name: cache
      redis: redis://127.0.0.1:6379
      schedule: "CRON_TZ=Europe/Oslo 0 3 * * *"
`

// imageContainer runs the rdbak image ref as the deploy manifests do: the
// restricted security context, an emptyDir at /tmp, the config at /config.
// No runAsUser: runAsNonRoot must be satisfied by the image's own USER.
func imageContainer(name, ref string, args ...string) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           ref,
		ImagePullPolicy: corev1.PullNever,
		Args:            args,
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr(false),
			ReadOnlyRootFilesystem:   ptr(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}, {Name: "config", MountPath: "/config"}},
	}
}

func ptr[T any](v T) *T { return &v }

// startImagePod creates pod name running main after the init containers,
// as non-root with RuntimeDefault seccomp, and waits until it has finished.
func startImagePod(t *testing.T, ns *testcluster.Namespace, name string, main corev1.Container, init ...corev1.Container) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			InitContainers: init,
			Containers:     []corev1.Container{main},
			Volumes: []corev1.Volume{
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "rdbak"}, Optional: ptr(true)}}},
			},
		},
	}
	if _, err := ns.Clientset.CoreV1().Pods(ns.Name).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	return ns.WaitPod(t, name, "to finish", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	})
}

// logLines splits a container log, where stdout and the slog lines on
// stderr are interleaved.
func logLines(log string) []string { return strings.Split(strings.TrimSpace(log), "\n") }

// runImagePod runs startImagePod, requires the pod to succeed and returns
// the main container's log.
func runImagePod(t *testing.T, ns *testcluster.Namespace, name string, main corev1.Container, init ...corev1.Container) string {
	t.Helper()
	p := startImagePod(t, ns, name, main, init...)
	logs, err := ns.Clientset.CoreV1().Pods(ns.Name).GetLogs(name, &corev1.PodLogOptions{Container: main.Name}).DoRaw(t.Context())
	if err != nil {
		t.Fatalf("read the log of pod %s: %v", name, err)
	}
	if p.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("pod %s: phase %s, want Succeeded; log of %s:\n%s", name, p.Status.Phase, main.Name, logs)
	}
	return string(logs)
}
