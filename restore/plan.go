package restore

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// ErrBadRequest means the restore asked for cannot be done as asked (an
// unknown or impossible strategy): the caller fixes its flags. Nothing was
// changed.
var ErrBadRequest = errors.New("invalid restore request")

// Strategy is how a backup is installed into a running Redis.
type Strategy string

const (
	// Restart stages the file from a pod that mounts the same volume,
	// turns every save off, swaps the file in under the running Redis and
	// makes it exit without saving, so the kubelet restarts its container
	// on the restored file: a container restart, not a new pod. A Redis
	// that refuses CONFIG SET or SHUTDOWN is scaled as Offline does.
	Restart Strategy = "restart"
	// Offline scales the workload to zero, writes the file from a restore
	// pod that mounts the same volume, and scales back.
	Offline Strategy = "offline"
	// InPlace streams the file into the Redis container, turns every save
	// off and makes Redis exit without saving, so the kubelet restarts it
	// on the restored file.
	InPlace Strategy = "in-place"
)

// Workload is the controller of the Redis pod, as far as a restore cares.
type Workload struct {
	Kind      string // StatefulSet, Deployment, or "" for a bare pod
	Namespace string
	Name      string
	Replicas  int32
	// RestartPolicy is a bare pod's (Always, OnFailure, Never; "" is
	// Always, as for every pod of a StatefulSet or Deployment): the
	// in-place strategy needs the kubelet to start Redis again after it
	// exits.
	RestartPolicy string
}

func (w Workload) String() string {
	if w.Kind == "" {
		return "pod " + w.Namespace + "/" + w.Name
	}
	return strings.ToLower(w.Kind) + " " + w.Namespace + "/" + w.Name
}

// Volume says where Redis's dir lives.
type Volume int

const (
	// NoVolume: the dir is in the container's own filesystem, lost at
	// every restart.
	NoVolume Volume = iota
	// Ephemeral: an emptyDir, which survives container restarts but not a
	// new pod.
	Ephemeral
	// Persistent: a volume (PVC) another pod can mount.
	Persistent
)

// Layout is where Redis keeps its data and how it persists it.
type Layout struct {
	Dir, DBFilename string
	AOF             AOF
}

// Persistence describes the layout for the plan, e.g. "RDB (dump.rdb)".
func (l Layout) Persistence() string {
	switch l.AOF.Mode {
	case "multipart":
		return "appendonly yes (multi-part AOF in " + l.AOF.DirName + ")"
	case "single":
		return "appendonly yes (" + l.AOF.FileName + ")"
	}
	return "RDB (" + l.DBFilename + ")"
}

// ChooseStrategy picks restart for a single-replica workload whose data is
// on a volume another pod can mount, and in-place for data that survives
// only a container restart. asked is "", "auto", "restart", "offline" or
// "in-place".
// Errors wrap ErrRefused (the target cannot be restored into safely) or
// ErrBadRequest (the strategy asked for does not fit).
func ChooseStrategy(asked string, w Workload, vol Volume, l Layout) (Strategy, error) {
	if vol == NoVolume {
		return "", fmt.Errorf("%w: Redis's dir %s is not on a volume: its data is lost at every restart, so there is nothing to restore into (give the workload a PersistentVolumeClaim or emptyDir)", ErrRefused, l.Dir)
	}
	offlineOK := vol == Persistent && w.Kind != "" && w.Replicas == 1
	why := ""
	switch {
	case vol != Persistent:
		why = "the data is on an emptyDir, which a new pod would not get back"
	case w.Kind == "":
		why = "the pod has no StatefulSet or Deployment to scale"
	case w.Replicas != 1:
		why = fmt.Sprintf("%s has %d replicas", w, w.Replicas)
	}
	switch asked {
	case "", "auto":
		if offlineOK {
			return Restart, nil
		}
		if w.Replicas > 1 {
			return "", fmt.Errorf("%w: %s has %d replicas, each with its own data; restore one pod with --pod and --strategy in-place (its container restarts on the restored file, the other pods keep theirs), or scale it to 1 first", ErrRefused, w, w.Replicas)
		}
	case string(Restart), string(Offline):
		if !offlineOK {
			return "", fmt.Errorf("%w: --strategy %s: %s", ErrBadRequest, asked, why)
		}
		return Strategy(asked), nil
	case string(InPlace):
	default:
		return "", fmt.Errorf("%w: --strategy %q: use restart, offline or in-place", ErrBadRequest, asked)
	}
	if p := w.RestartPolicy; p != "" && p != "Always" {
		return "", fmt.Errorf("%w: %s has restartPolicy %s: the in-place restore makes Redis exit (SHUTDOWN NOSAVE) so that the kubelet starts it again on the restored file, "+
			"but the kubelet would not, and Redis would stay down (with an emptyDir, its data would go with the pod); run Redis with restartPolicy Always "+
			"(or in a StatefulSet or Deployment), or restore --to-file and load the file yourself", ErrRefused, w, p)
	}
	return InPlace, nil
}

// Steps lists what a restore of backup id with strategy s does, in order,
// for the plan users read in --dry-run. annotation is the workload
// annotation that records the replica count while it is scaled down.
func Steps(s Strategy, id string, w Workload, l Layout, annotation string) []string {
	target := l.Dir + "/" + l.DBFilename
	staged := target + TempSuffix
	if l.AOF.Mode == "multipart" {
		staged += " and " + l.Dir + "/" + l.AOF.DirName + TempSuffix + " (a new AOF manifest with the RDB as its base)"
	} else if l.AOF.Mode == "single" {
		staged += " and " + l.Dir + "/" + l.AOF.FileName + TempSuffix
	}
	stage := "through exec into the Redis container, download and verify backup " + id + " (sizes, SHA-256, RDB CRC-64) while streaming it into " + staged +
		", names Redis never loads; check its length and SHA-256 there and fsync it. Redis keeps serving the old data"
	if s != InPlace {
		stage = "run a staging pod with the rdbak image on the Redis pod's node, mounting the same volume beside the running Redis; download backup " + id +
			" (checking its stored size and SHA-256) and stream it, still compressed, to the staging pod, which decodes it into " + staged +
			", names Redis never loads, checks the RDB's length and SHA-256 against the manifest and fsyncs it. Redis keeps serving the old data"
	}
	save := "meanwhile, BGSAVE the current data, so that it is kept as " + l.DBFilename + PreRestoreSuffix +
		": started by the length of Redis's last BGSAVE to end with the staging (at once when Redis has not saved since it started); the next step waits for both." +
		" None when " + l.DBFilename + " holds the data already: Redis counts no write since it saved or loaded it, and the file has not changed since"
	if l.AOF.Mode != "" {
		save = "AOF is on: Redis keeps the current data in its AOF, which is kept as " + PreRestoreSuffix
	}
	install := "swap the staged files in, each by one atomic exchange, keeping the current ones as " + PreRestoreSuffix + " (" + target + " always holds the old or the new data, never nothing)"
	check := "wait until Redis has loaded the data (the downtime ends here) and compare its key counts with the manifest"
	if s == Offline {
		return []string{stage, save,
			fmt.Sprintf(`turn off Redis's save points (CONFIG SET save "", so stopping it writes nothing over the data), scale %s from %d to 0 and wait until its pod is gone (annotated %s): the downtime starts here`, w, w.Replicas, annotation),
			install,
			fmt.Sprintf("scale %s back to %d, delete the staging pod and wait until Redis is Ready", w, w.Replicas),
			check}
	}
	off := `turn off every save in Redis (CONFIG SET save "", and shutdown-on-sigterm nosave on 7.0+); it keeps serving`
	if l.AOF.Mode != "" {
		off += "; CONFIG SET appendonly no, which fsyncs and closes the AOF and stops any rewrite, so nothing writes to it while it is replaced (on failure before the swap, appendonly yes again); the config file keeps appendonly yes, so the restart loads the new AOF"
	}
	if s == Restart {
		return []string{stage, save,
			off + fmt.Sprintf("; should Redis refuse, scale %s to 0 instead, as --strategy offline does", w),
			"from the staging pod, " + install + "; the running Redis does not read them",
			fmt.Sprintf("delete the staging pod and make Redis exit without saving (SHUTDOWN NOSAVE) so the kubelet restarts its container on the restored file (the downtime starts here); wait until it is Ready. Should Redis refuse, scale %s to 0 and back to %d (its saves are off: its shutdown writes nothing)", w, w.Replicas),
			check}
	}
	swap := "keep the current " + target + " as " + target + PreRestoreSuffix + " by a hard link and rename the staged file over it (" + target + " always holds the old or the new data, never nothing)"
	switch l.AOF.Mode {
	case "multipart":
		swap = "rename " + l.Dir + "/" + l.AOF.DirName + " to " + l.AOF.DirName + PreRestoreSuffix + " and the staged AOF directory into its place (two renames: for a moment there is no AOF directory, while Redis writes none); then " + swap
	case "single":
		swap = "keep " + l.Dir + "/" + l.AOF.FileName + " as " + l.AOF.FileName + PreRestoreSuffix + " by a hard link and rename the staged AOF over it; then " + swap
	}
	return []string{stage, save, off,
		"through exec, " + swap + "; the running Redis does not read them",
		"make Redis exit without saving (SHUTDOWN NOSAVE) so the kubelet restarts it on the restored file (the downtime starts here); wait until it is Ready",
		check}
}

// VerifyStep is the step that downloads and verifies backup id before
// anything else, where staging cannot come first (inside a failover
// freeze, ReplicatedSteps).
func VerifyStep(id string) string {
	return "download and verify backup " + id + " completely (sizes, SHA-256, RDB CRC-64) before any change"
}

// Estimate is what a restore is expected to take, printed with the plan.
type Estimate struct {
	Total    time.Duration `json:"total"`
	Downtime time.Duration `json:"downtime"`
}

// Throughputs and fixed costs the estimate assumes, from hack/bench-kube.sh
// on the shared 2-core testbed (2026-11-27/28, 0.9 GiB RDB of 3.5 M keys of
// Redis 6.2): the exec stream through the API server into the staging pod
// ~50 MB/s of RDB (since the stream is compressed, 45-50 MB/s beside a
// BGSAVE), Redis's BGSAVE 44-49 MB/s alone, its load 125-160 MB/s, a
// container restart 1.7-2.2 s, a pod's stop and start 1-2 s each. A quieter
// or bigger machine is faster; the estimate is meant to be on the safe side.
const (
	estStreamBytesPerSec = 60 << 20
	estLoadBytesPerSec   = 150 << 20
	estSaveBytesPerSec   = 48 << 20
	estPodStart          = 2 * time.Second // staging pod, or the Redis pod after the scale-up, to Running
	estPodStop           = 1500 * time.Millisecond
	estContainerRestart  = 2 * time.Second
	estCheck             = 1 * time.Second
)

// EstimateOf estimates a restore of a rawSize-byte RDB with strategy s;
// save is whether a BGSAVE runs beside the staging.
func EstimateOf(s Strategy, rawSize int64, save bool) Estimate {
	per := func(rate float64) time.Duration { return time.Duration(float64(rawSize) / rate * float64(time.Second)) }
	stage := per(estStreamBytesPerSec)
	load := per(estLoadBytesPerSec)
	var e Estimate
	if s != InPlace {
		stage += estPodStart
	}
	if s == Offline {
		e.Downtime = estPodStop + estPodStart + load
	} else {
		e.Downtime = estContainerRestart + load
	}
	e.Total = stage + e.Downtime + estCheck
	if save {
		// It runs beside the staging, which it slows by sharing the CPU
		// and the disk: about half its own time on 2 cores.
		e.Total += per(estSaveBytesPerSec) / 2
	}
	return e
}

// Plan is what a restore into a running Redis will do: printed by
// --dry-run and before the confirmation, and returned with the result.
type Plan struct {
	Backup   *storage.Manifest `json:"backup"`
	Target   string            `json:"target"`
	Pod      string            `json:"pod"`
	Workload string            `json:"workload"`
	Redis    string            `json:"redisVersion"`
	Persist  string            `json:"persistence"`
	Strategy Strategy          `json:"strategy"`
	DataDir  string            `json:"dataDir"`
	Findings []Finding         `json:"checks"`
	Steps    []string          `json:"steps"`
	// Set is the Sentinel set the master belongs to, when the restore
	// runs inside a failover freeze (ReplicatedSteps).
	Set *SetPlan `json:"sentinelSet,omitempty"`
	// Replication is the master with replicas and no Sentinel the
	// restore goes into (ReplicationSteps).
	Replication *ReplicationPlan `json:"replication,omitempty"`
	// Cluster is the shard-to-master map of a backup set restored into a
	// Redis Cluster of the same shape.
	Cluster *ClusterPlan `json:"cluster,omitempty"`
	// Estimate is the expected total time and downtime; Measured what
	// the run took.
	Estimate   Estimate `json:"estimate"`
	Measured   *Timings `json:"measured,omitempty"`
	Result     string   `json:"result,omitempty"`
	PreRestore []string `json:"preRestore,omitempty"`
}

// Refused returns the plan's refusals as one error, nil when none refuses.
func (p *Plan) Refused() error { return Refusals(p.Findings) }

// Summary is the backup line of the plan, e.g. "prod/2026... (2026-11-22T03:00:00Z, 12 keys, RDB v11, Redis 7.2.4)".
func (p *Plan) Summary() string {
	m := p.Backup
	v := m.Redis.Version
	if v == "" {
		v = "-"
	}
	return fmt.Sprintf("%s/%s (%s, %d keys, RDB v%d, Redis %s)", m.Target, m.ID, m.Created.UTC().Format(time.RFC3339), m.Keys(), m.RDB.Version, v)
}
