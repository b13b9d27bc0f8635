package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/restore"
)

// RedisAdmin is the part of a Redis connection an in-place restore needs.
type RedisAdmin interface {
	ConfigGet(ctx context.Context, name string) (string, error)
	ConfigSet(ctx context.Context, name, value string) error
	// ShutdownNoSave sends SHUTDOWN NOSAVE; the connection closing is
	// success.
	ShutdownNoSave(ctx context.Context) error
}

// InPlace restores into the running Redis container: the file is staged
// through exec beside the live data and checked there while Redis serves,
// every save (and, with appendonly yes, the AOF) is turned off, the staged
// files are swapped in under the running Redis (which does not read them),
// and Redis is made to exit without saving so the kubelet restarts it on
// them. The data dir must survive a container restart (a PVC or emptyDir),
// and the container needs sh, cat, wc, sha256sum, mkdir, printf, ln, mv and
// rm.
type InPlace struct {
	Client    *Client
	Namespace string
	Pod       string
	Container string
	Redis     RedisAdmin
	// Version7 is true for Redis 7.0+, which has shutdown-on-sigterm.
	Version7 bool
	// AOF is true when Redis runs with appendonly yes: Stop then turns AOF
	// off (which fsyncs and closes it) so that nothing writes to the AOF
	// files while they are replaced, and Undo turns it back on.
	AOF       bool
	AllowSPDY bool
	Timeout   time.Duration

	oldSave   string
	stopped   bool
	aofOff    bool // Stop turned appendonly off
	staged    bool
	installed bool
	restarts  int32
	in        restore.Install
}

var _ restore.Rollout = (*InPlace)(nil)

// stageScript receives the file under a name Redis never loads, checks
// length and SHA-256 in the pod and fsyncs it; it changes nothing live.
// With AOF (mode multipart or single) it also builds, beside the live
// ones, the AOF Redis is to load at startup from the received RDB: a new
// AOF directory whose manifest lists it as the base (7.0+), or the RDB as
// the single AOF file, which Redis < 7 loads as an RDB preamble.
const stageScript = `dir=$1; name=$2; size=$3; sum=$4; mode=$5; aofdir=$6; aoffile=$7
tmp="$dir/$name.rdbak-tmp"
cat > "$tmp" || { rm -f "$tmp"; exit 65; }
got=$(wc -c < "$tmp" | tr -d ' ')
if [ "$got" != "$size" ]; then rm -f "$tmp"; echo "received $got bytes, expected $size: nothing was replaced" >&2; exit 65; fi
gotsum=$(sha256sum "$tmp" | cut -d ' ' -f 1)
if [ "$gotsum" != "$sum" ]; then rm -f "$tmp"; echo "SHA-256 $gotsum, expected $sum: nothing was replaced" >&2; exit 65; fi
case "$mode" in
multipart)
  new="$dir/$aofdir.rdbak-tmp"; base="$aoffile.1.base.rdb"
  rm -rf "$new" && mkdir "$new" && cat "$tmp" > "$new/$base" && printf 'file %s seq 1 type b\n' "$base" > "$new/$aoffile.manifest" || { rm -rf "$new" "$tmp"; echo "build the staged AOF directory $new failed: nothing was replaced" >&2; exit 65; } ;;
single)
  new="$dir/$aoffile.rdbak-tmp"
  cat "$tmp" > "$new" || { rm -f "$new" "$tmp"; echo "build the staged AOF $new failed: nothing was replaced" >&2; exit 65; } ;;
"") ;;
*) rm -f "$tmp"; echo "unknown AOF mode $mode" >&2; exit 64 ;;
esac
sync`

// commitScript swaps the staged files in, the AOF first (what Redis loads
// with appendonly yes), then dbfilename, and prints each file it kept as
// .pre-restore. A file is kept by a hard link and the staged one renamed
// over it, so its path is never missing; the AOF directory (7.0+) cannot
// be linked, so it is renamed aside and the staged one into its place.
const commitScript = `dir=$1; name=$2; mode=$3; aofdir=$4; aoffile=$5
case "$mode" in
multipart) aof="$dir/$aofdir" ;;
single) aof="$dir/$aoffile" ;;
"") aof= ;;
*) echo "unknown AOF mode $mode" >&2; exit 64 ;;
esac
for f in "$dir/$name" ${aof:+"$aof"}; do
  [ -e "$f.rdbak-tmp" ] || { echo "no staged $f.rdbak-tmp: stage the backup again" >&2; exit 66; }
done
swap() {
  rm -rf "$1.pre-restore" || exit 66
  if [ -d "$1.rdbak-tmp" ]; then
    if [ -e "$1" ]; then mv "$1" "$1.pre-restore" || exit 66; echo "$1.pre-restore"; fi
    mv "$1.rdbak-tmp" "$1" || exit 66
  else
    if [ -e "$1" ]; then ln "$1" "$1.pre-restore" || exit 66; echo "$1.pre-restore"; fi
    mv -f "$1.rdbak-tmp" "$1" || exit 66
  fi
}
if [ -n "$aof" ]; then swap "$aof"; fi
swap "$dir/$name"
sync`

// discardScript removes the staged files.
const discardScript = `dir=$1; name=$2; mode=$3; aofdir=$4; aoffile=$5
rm -f "$dir/$name.rdbak-tmp" || exit 66
case "$mode" in
multipart) rm -rf "$dir/$aofdir.rdbak-tmp" || exit 66 ;;
single) rm -f "$dir/$aoffile.rdbak-tmp" || exit 66 ;;
esac`

// aofArgs are the AOF arguments of the scripts, after checking that the
// names are plain file names (the scripts remove paths built from them).
func aofArgs(in restore.Install) ([]string, error) {
	plain := func(s string) bool { return s != "" && s != "." && s != ".." && !strings.Contains(s, "/") }
	switch in.AOF.Mode {
	case "":
	case "multipart":
		if !plain(in.AOF.DirName) || !plain(in.AOF.FileName) {
			return nil, fmt.Errorf("appenddirname %q and appendfilename %q must be plain names", in.AOF.DirName, in.AOF.FileName)
		}
	case "single":
		if !plain(in.AOF.FileName) {
			return nil, fmt.Errorf("appendfilename %q must be a plain name", in.AOF.FileName)
		}
	default:
		return nil, fmt.Errorf("unknown AOF mode %q", in.AOF.Mode)
	}
	return []string{in.AOF.Mode, in.AOF.DirName, in.AOF.FileName}, nil
}

func (r *InPlace) exec(ctx context.Context, script string, args []string, body io.Reader) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := append([]string{"sh", "-c", script, "rdbak"}, args...)
	err := r.Client.Exec(ctx, ExecTarget{Namespace: r.Namespace, Pod: r.Pod, Container: r.Container, AllowSPDY: r.AllowSPDY}, cmd, body, &stdout, &stderr)
	if err != nil {
		return "", fmt.Errorf("in pod %s/%s: %w", r.Namespace, r.Pod, withStderr(err, stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Stage implements restore.Rollout.
func (r *InPlace) Stage(ctx context.Context, body io.Reader, in restore.Install) error {
	if in.AOF.Mode != "" && !r.AOF {
		return fmt.Errorf("stage an AOF in pod %s/%s: the rollout was not told Redis runs with appendonly yes, so it would not turn AOF off", r.Namespace, r.Pod)
	}
	aof, err := aofArgs(in)
	if err != nil {
		return fmt.Errorf("stage in pod %s/%s: %w", r.Namespace, r.Pod, err)
	}
	r.in, r.staged = in, true
	if _, err := r.exec(ctx, stageScript, append([]string{in.Dir, in.DBFilename, strconv.FormatInt(in.Size, 10), in.SHA256}, aof...), body); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	return nil
}

// Stop implements restore.Rollout: no save point, no SIGTERM and no AOF
// write or rewrite may touch the files about to be swapped in.
func (r *InPlace) Stop(ctx context.Context) error {
	save, err := r.Redis.ConfigGet(ctx, "save")
	if err != nil {
		return fmt.Errorf("read save points: %w", err)
	}
	r.oldSave, r.stopped = save, true
	if err := r.Redis.ConfigSet(ctx, "save", ""); err != nil {
		return fmt.Errorf("turn off save points: %w", err)
	}
	if r.Version7 {
		for _, sig := range []string{"shutdown-on-sigterm", "shutdown-on-sigint"} {
			if err := r.Redis.ConfigSet(ctx, sig, "nosave"); err != nil {
				return fmt.Errorf("set %s nosave: %w", sig, err)
			}
		}
	}
	if r.AOF {
		// appendonly no flushes and fsyncs the AOF, closes it and kills
		// a rewrite: from here the files on disk hold the current data
		// (kept as .pre-restore) and no rewrite can replace the new ones.
		// The config file still says appendonly yes, so the restarted
		// Redis loads the installed AOF.
		r.aofOff = true
		if err := r.Redis.ConfigSet(ctx, "appendonly", "no"); err != nil {
			return fmt.Errorf("turn off appendonly while the AOF is replaced: %w", err)
		}
	}
	return nil
}

// Commit implements restore.Rollout.
func (r *InPlace) Commit(ctx context.Context, in restore.Install) (*restore.Installed, error) {
	if in.AOF.Mode != "" && !r.aofOff {
		return nil, fmt.Errorf("install an AOF in pod %s/%s: AOF was not turned off, so Redis could write to the files being replaced", r.Namespace, r.Pod)
	}
	aof, err := aofArgs(in)
	if err != nil {
		return nil, fmt.Errorf("install in pod %s/%s: %w", r.Namespace, r.Pod, err)
	}
	kept, err := r.exec(ctx, commitScript, append([]string{in.Dir, in.DBFilename}, aof...), nil)
	if err != nil {
		return nil, commitError(fmt.Errorf("install: %w", err))
	}
	r.installed, r.staged = true, false
	out := &restore.Installed{Path: in.Dir + "/" + in.DBFilename, Size: in.Size, SHA256: in.SHA256}
	for _, l := range strings.Split(kept, "\n") {
		if l != "" {
			out.PreRestore = append(out.PreRestore, l)
		}
	}
	switch in.AOF.Mode {
	case "multipart":
		d := in.Dir + "/" + in.AOF.DirName + "/" + in.AOF.FileName
		out.AOFFiles = []string{d + ".1.base.rdb", d + ".manifest"}
	case "single":
		out.AOFFiles = []string{in.Dir + "/" + in.AOF.FileName}
	}
	return out, nil
}

// Start implements restore.Rollout.
func (r *InPlace) Start(ctx context.Context) error {
	pods := r.Client.API.CoreV1().Pods(r.Namespace)
	before, err := pods.Get(ctx, r.Pod, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get pod %s/%s: %w", r.Namespace, r.Pod, err)
	}
	r.restarts = restartCount(before.Status.ContainerStatuses, r.Container)
	if err := r.Redis.ShutdownNoSave(ctx); err != nil {
		return err
	}
	r.stopped = false
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return Poll(wctx, r.Client.every(downtimePoll), "redis in "+r.Pod+" to restart and be Ready", func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, r.Pod, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return restartCount(p.Status.ContainerStatuses, r.Container) > r.restarts && Ready(p), nil
	})
}

func restartCount(ss []corev1.ContainerStatus, name string) int32 {
	for _, s := range ss {
		if s.Name == name {
			return s.RestartCount
		}
	}
	return 0
}

// Undo implements restore.Rollout: it removes the staged files and, if
// nothing was installed, gives Redis its save points back and turns AOF
// on again (which rewrites it from the data in memory). Once the file is installed it must not: the next
// save would write the old in-memory data over it, so saves stay off and
// the error says how to finish.
func (r *InPlace) Undo(ctx context.Context) error {
	var discard error
	if r.staged {
		aof, err := aofArgs(r.in)
		if err == nil {
			_, err = r.exec(ctx, discardScript, append([]string{r.in.Dir, r.in.DBFilename}, aof...), nil)
		}
		if err != nil {
			discard = fmt.Errorf("remove the staged files (Redis never loads them; the next restore replaces them): %w", err)
		} else {
			r.staged = false
		}
	}
	if !r.stopped {
		return discard
	}
	if r.installed {
		files := ".pre-restore file"
		if r.aofOff {
			files = ".pre-restore files (dbfilename's and the AOF's)"
		}
		return fmt.Errorf("the restored data is installed but Redis %s/%s still runs on the old data with saves off: restart the container (it loads the restored data), or move the %s back first to keep the old data", r.Namespace, r.Pod, files)
	}
	if err := r.Redis.ConfigSet(ctx, "save", r.oldSave); err != nil {
		return errors.Join(discard, fmt.Errorf("give back save points %q: %w", r.oldSave, err))
	}
	if r.aofOff {
		// Turning AOF on rewrites it from the (untouched) data in memory.
		if err := r.Redis.ConfigSet(ctx, "appendonly", "yes"); err != nil {
			return errors.Join(discard, fmt.Errorf("turn appendonly back on (run CONFIG SET appendonly yes on it): %w", err))
		}
		r.aofOff = false
	}
	if r.Version7 {
		for _, sig := range []string{"shutdown-on-sigterm", "shutdown-on-sigint"} {
			if err := r.Redis.ConfigSet(ctx, sig, "default"); err != nil {
				return errors.Join(discard, fmt.Errorf("reset %s: %w", sig, err))
			}
		}
	}
	r.stopped = false
	return discard
}

// revertScript puts the file kept as .pre-restore back in place of the
// installed one (or removes the installed one when there was none). It
// handles dbfilename only: Revert and Rollback serve the cluster restore,
// which refuses appendonly yes.
const revertScript = `dir=$1; name=$2
if [ -e "$dir/$name.pre-restore" ]; then mv "$dir/$name.pre-restore" "$dir/$name" || exit 66; else rm -f "$dir/$name" || exit 66; fi
sync`

// Revert undoes an Install that Start has not yet followed: the previous
// file goes back into place and Redis, which never stopped running on the
// old data, gets its save points back. A restore of several nodes (a Redis
// Cluster) reverts every node installed so far when one fails, so that
// none loads the new data.
func (r *InPlace) Revert(ctx context.Context, in restore.Install) error {
	if !r.installed {
		return r.Undo(ctx)
	}
	var stderr bytes.Buffer
	cmd := []string{"sh", "-c", revertScript, "rdbak", in.Dir, in.DBFilename}
	if err := r.Client.Exec(ctx, ExecTarget{Namespace: r.Namespace, Pod: r.Pod, Container: r.Container, AllowSPDY: r.AllowSPDY}, cmd, nil, io.Discard, &stderr); err != nil {
		return fmt.Errorf("put %s%s back in pod %s/%s: %w", in.DBFilename, restore.PreRestoreSuffix, r.Namespace, r.Pod, withStderr(err, stderr.String()))
	}
	r.installed = false
	return r.Undo(ctx)
}

// Rollback takes back a restore that Start completed (or attempted): with
// every save off, the previous file goes back into place and Redis
// restarts on it. A cluster restore rolls back the masters already
// restarted when another fails to, so that the cluster keeps its old data
// throughout.
func (r *InPlace) Rollback(ctx context.Context, in restore.Install) error {
	stopErr := r.Stop(ctx)
	var stderr bytes.Buffer
	cmd := []string{"sh", "-c", revertScript, "rdbak", in.Dir, in.DBFilename}
	if err := r.Client.Exec(ctx, ExecTarget{Namespace: r.Namespace, Pod: r.Pod, Container: r.Container, AllowSPDY: r.AllowSPDY}, cmd, nil, io.Discard, &stderr); err != nil {
		return fmt.Errorf("put %s%s back in pod %s/%s: %w", in.DBFilename, restore.PreRestoreSuffix, r.Namespace, r.Pod, withStderr(err, stderr.String()))
	}
	r.installed = false
	if stopErr != nil {
		return fmt.Errorf("the previous file is back in pod %s/%s, but Redis does not answer (%w): its next restart loads it", r.Namespace, r.Pod, stopErr)
	}
	return r.Start(ctx)
}
