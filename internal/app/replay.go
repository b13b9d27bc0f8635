package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/cluster"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/crypt"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// ErrKeysFailed means a replay finished but some keys were not restored;
// the report lists them.
var ErrKeysFailed = errors.New("keys failed to restore")

// MaxListedFailures bounds the failing keys a ReplayReport keeps; every
// one of them is logged regardless.
const MaxListedFailures = 1000

// Defaults of a replay.
const (
	DefaultReplayBatch = 500      // RESTOREs per pipeline to one node
	replayBatchBytes   = 16 << 20 // payload bytes per pipeline, whatever the count
)

// ReplayOptions are the choices of a key replay.
type ReplayOptions struct {
	// Identities decrypt an encrypted backup.
	Identities *crypt.Identities
	// Batch is the RESTOREs pipelined to one node at a time;
	// DefaultReplayBatch when 0.
	Batch int
	// Progress, when set, is updated as keys go out.
	Progress *ReplayProgress
	// Now is the clock that decides which keys have expired; time.Now
	// when nil.
	Now func() time.Time
}

// ReplayProgress is updated while a replay runs; read it from any
// goroutine.
type ReplayProgress struct {
	Phase atomic.Value // "verify" or "replay"
	Keys  atomic.Int64 // keys read from the backup so far
	Bytes atomic.Int64 // RDB bytes read so far (in the replay phase)
}

// KeyFailure is a key the target did not restore.
type KeyFailure struct {
	DB   int    `json:"db"`
	Key  string `json:"key"`
	Node string `json:"node"`
	Err  string `json:"error"`
}

// ReplayReport is what a replay did.
type ReplayReport struct {
	Target   string `json:"target"` // the server or cluster written to
	Keys     int64  `json:"keys"`   // keys in the backup
	Restored int64  `json:"restored"`
	Expired  int64  `json:"expired"` // already expired: not sent, as a master's load drops them
	Failed   int64  `json:"failed"`
	// Evicted is how many keys the target evicted (maxmemory) while the
	// replay ran: restored, then lost.
	Evicted   int64        `json:"evicted"`
	Functions int          `json:"functions"` // function libraries loaded (on each master)
	Failures  []KeyFailure `json:"failures,omitempty"`
	Bytes     int64        `json:"payloadBytes"`
	Verify    float64      `json:"verifySeconds"`
	Replay    float64      `json:"replaySeconds"`
}

// replayDest is one node (or one db of a standalone server) that RESTOREs
// go to, with its pending batch and the worker that sends batches.
type replayDest struct {
	name    string
	client  *redis.Client
	pending []redis.Restore
	dbs     []int // db of each pending restore, for failure reports
	bytes   int
	batches chan replayBatch
}

type replayBatch struct {
	cmds []redis.Restore
	dbs  []int
}

// replayer sends the keys of a backup to the target.
type replayer struct {
	log     *slog.Logger
	batch   int
	router  *cluster.Router // nil for a standalone target
	dests   map[int]*replayDest
	newDest func(i int) (*replayDest, error)
	rep     *ReplayReport
	mu      sync.Mutex // guards rep's counters and failures from workers
	wg      sync.WaitGroup
	fatal   atomic.Pointer[error]
	ctx     context.Context // the replay's, for the workers
	codes   []string        // function libraries read from the backup
	nodes   []string        // the servers written to, whose evictions count
}

// Replay restores backup m (a set, or one RDB) into the Redis or Redis
// Cluster of to, by key: every key of the verified backup is sent as
// RESTORE key ttl payload REPLACE ABSTTL to the node that owns its slot,
// pipelined; keys already expired are counted, not sent; keys the target
// refuses are reported, never skipped silently (ErrKeysFailed). The whole
// backup is verified before the first key is sent.
func (a *App) Replay(ctx context.Context, repo *storage.Repo, m *storage.Manifest, to *config.Target, o ReplayOptions) (*ReplayReport, error) {
	if o.Batch <= 0 {
		o.Batch = DefaultReplayBatch
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := restore.CheckDecryptable(m, o.Identities); err != nil {
		return nil, err
	}
	addr, password, tlsConf, err := endpointOf(to)
	if err != nil {
		return nil, err
	}
	log := a.Log.With("backup_id", m.ID, "replay_to", addr)
	seed := redis.New(redis.Options{Addr: addr, Username: to.User(), Password: password, TLS: tlsConf})
	defer seed.Close()
	in, err := seed.Info(ctx, "server", "cluster", "replication")
	if err != nil {
		return nil, err
	}
	if in.Server.Mode == sentinelMode {
		return nil, UsageError{Err: fmt.Errorf("%s is a Redis Sentinel, which takes no keys: replay into the master it monitors (SENTINEL GET-MASTER-ADDR-BY-NAME NAME gives its address)", addr)}
	}
	id := backup.Identify(in.Server)
	rt := restore.ReplayTarget{Flavor: id.FlavorOf(), Version: id.Version, Cluster: in.Cluster.Enabled}
	if in.Replication.Role == "slave" {
		rt.MasterOf = net.JoinHostPort(in.Replication.MasterHost, in.Replication.MasterPort)
	}
	rep := &ReplayReport{Target: rt.String() + " at " + addr, Keys: int64(m.Keys())}
	r := &replayer{log: log, batch: o.Batch, dests: map[int]*replayDest{}, rep: rep}
	dial := nodeDialer(to.User(), password, tlsConf)
	standalone := func(db int) *redis.Client {
		return redis.New(redis.Options{Addr: addr, Username: to.User(), Password: password, TLS: tlsConf, DB: db})
	}
	if err := r.route(ctx, seed, addr, rt, dial, standalone); err != nil {
		return nil, err
	}
	if err := restore.CheckReplay(m, rt); err != nil {
		return nil, err
	}
	if m.Cluster != nil && m.Cluster.Partial {
		log.WarnContext(ctx, "the backup is partial: one cluster node taken alone (--single-node), with its own shard's keys only")
	}
	if o.Progress != nil {
		o.Progress.Phase.Store("verify")
	}
	start := time.Now()
	v, err := restore.Verify(ctx, repo, m, restore.FetchOptions{Identities: o.Identities})
	if err == nil {
		err = restore.CheckReplayable(m, v)
	}
	if err != nil {
		return nil, err
	}
	rep.Verify = time.Since(start).Seconds()
	log.InfoContext(ctx, "backup verified; replaying keys", "target", rep.Target, "keys", rep.Keys)
	if o.Progress != nil {
		o.Progress.Phase.Store("replay")
	}
	before, err := r.evictions(ctx, dial)
	if err != nil {
		return nil, err
	}
	start = time.Now()
	err = r.run(ctx, repo, m, o)
	rep.Replay = time.Since(start).Seconds()
	if err == nil {
		err = r.loadFunctions(ctx, m, dial, seed, rt)
	}
	if err != nil {
		return rep, err
	}
	after, err := r.evictions(ctx, dial)
	if err != nil {
		return rep, err
	}
	if rep.Evicted = after.keys - before.keys; rep.Evicted > 0 {
		return rep, fmt.Errorf("%w: %s evicted %d keys while the replay ran (maxmemory-policy %s, maxmemory %d bytes): the backup does not fit, and those keys are lost; raise maxmemory or set maxmemory-policy noeviction, then replay again",
			ErrKeysFailed, rep.Target, rep.Evicted, after.policy, after.maxmemory)
	}
	if rep.Failed > 0 {
		return rep, fmt.Errorf("%w: %d of %d keys were not restored into %s (listed in the report; every one is in the log)", ErrKeysFailed, rep.Failed, rep.Keys, rep.Target)
	}
	return rep, nil
}

// route sets where keys go: for a cluster, the master that serves each
// key's slot (the cluster must be fit: state ok, every slot served, none
// moving); for a standalone server, the key's db.
func (r *replayer) route(ctx context.Context, seed *redis.Client, addr string, rt restore.ReplayTarget, dial func(string) *nodeConn, standalone func(db int) *redis.Client) error {
	if !rt.Cluster {
		r.nodes = []string{addr}
		r.newDest = func(db int) (*replayDest, error) {
			return &replayDest{name: addr + " db " + strconv.Itoa(db), client: standalone(db)}, nil
		}
		return nil
	}
	ci, err := readCluster(ctx, seed)
	if err != nil {
		return fmt.Errorf("replay into the cluster of %s: %w", addr, err)
	}
	if err := checkMasters(ctx, ci.topo, dial); err != nil {
		return fmt.Errorf("replay into the cluster of %s: %w", addr, err)
	}
	r.router = cluster.NewRouter(ci.topo)
	shards := ci.topo.Shards
	for _, s := range shards {
		r.nodes = append(r.nodes, s.Master.Addr)
	}
	r.newDest = func(i int) (*replayDest, error) {
		n := dial(shards[i].Master.Addr)
		return &replayDest{name: "master " + shards[i].Master.ID + " (" + n.addr + ")", client: n.client}, nil
	}
	r.rep.Target = fmt.Sprintf("%s of %d masters via %s", rt, len(shards), addr)
	return nil
}

// evicted is what the servers written to say of maxmemory evictions.
type evicted struct {
	keys      int64 // evicted_keys, summed
	policy    string
	maxmemory int64
}

// evictions reads INFO stats and memory of every server written to: a
// target under maxmemory with an evicting policy takes every RESTORE and
// then drops keys, which only its evicted_keys shows.
func (r *replayer) evictions(ctx context.Context, dial func(string) *nodeConn) (evicted, error) {
	var e evicted
	for _, addr := range r.nodes {
		n := dial(addr)
		in, err := n.client.Info(ctx, "stats", "memory")
		n.Close()
		if err != nil {
			return e, fmt.Errorf("read the evictions of %s: %w", addr, err)
		}
		e.keys += in.Stats.EvictedKeys
		e.policy, e.maxmemory = in.Memory.Policy, in.Memory.MaxMemory
	}
	return e, nil
}

// run replays every part of m, one after the other, through per-node
// workers; it returns once every batch is answered.
func (r *replayer) run(ctx context.Context, repo *storage.Repo, m *storage.Manifest, o ReplayOptions) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var codes []string
	err := func() error {
		for i, p := range m.Parts() {
			version := p.RDB.Version
			pr, pw := io.Pipe()
			fetched := make(chan error, 1)
			go func() {
				_, err := restore.Fetch(ctx, repo, p, pw, restore.FetchOptions{Identities: o.Identities, SkipRawSHA256: true,
					Counter: func(n int) {
						if o.Progress != nil {
							o.Progress.Bytes.Add(int64(n))
						}
					}})
				pw.CloseWithError(err)
				fetched <- err
			}()
			now := o.Now().UnixMilli()
			_, err := rdb.Entries(pr, rdb.EntryFuncs{
				Key: func(e *rdb.Entry) error {
					if o.Progress != nil {
						o.Progress.Keys.Add(1)
					}
					if e.ExpireMs != 0 && e.ExpireMs <= now {
						r.mu.Lock()
						r.rep.Expired++
						r.mu.Unlock()
						return nil
					}
					return r.send(ctx, e, version)
				},
				Function: func(f rdb.Function) error {
					codes = append(codes, f.Code)
					return nil
				},
			})
			_ = pr.CloseWithError(errors.New("replay stopped reading"))
			ferr := <-fetched
			if err == nil {
				err = ferr
			}
			if err != nil {
				if m.IsSet() {
					return fmt.Errorf("replay shard %d (%s): %w", i, p.Data.Name, err)
				}
				return fmt.Errorf("replay backup %s: %w", m.ID, err)
			}
		}
		return nil
	}()
	if err == nil {
		for _, d := range r.dests {
			r.flush(ctx, d)
		}
	}
	if err != nil {
		cancel(err)
	}
	for _, d := range r.dests {
		if d.batches != nil {
			close(d.batches)
		}
	}
	r.wg.Wait()
	for _, d := range r.dests {
		_ = d.client.Close()
	}
	r.codes = codes
	if p := r.fatal.Load(); p != nil && err == nil {
		err = *p
	}
	return err
}

// send queues one key for its node and sends the node's batch when full.
func (r *replayer) send(ctx context.Context, e *rdb.Entry, version int) error {
	if p := r.fatal.Load(); p != nil {
		return *p
	}
	k := e.DB
	if r.router != nil {
		if k = r.router.Shard(e.Key); k < 0 {
			r.fail(KeyFailure{DB: e.DB, Key: string(e.Key), Err: "no master serves its slot"})
			return nil
		}
	}
	d := r.dests[k]
	if d == nil {
		var err error
		if d, err = r.newDest(k); err != nil {
			return err
		}
		d.batches = make(chan replayBatch, 1)
		r.dests[k] = d
		r.wg.Add(1)
		go r.worker(ctx, d)
	}
	payload := rdb.DumpPayload(make([]byte, 0, len(e.Value)+10), e.Value, version)
	d.pending = append(d.pending, redis.Restore{Key: append([]byte(nil), e.Key...), TTL: e.ExpireMs, Payload: payload})
	d.dbs = append(d.dbs, e.DB)
	d.bytes += len(payload)
	if len(d.pending) >= r.batch || d.bytes >= replayBatchBytes {
		r.flush(ctx, d)
	}
	return nil
}

// flush hands d's pending batch to its worker; it blocks while the worker
// still has one queued, which bounds memory to about two batches a node.
func (r *replayer) flush(ctx context.Context, d *replayDest) {
	if len(d.pending) == 0 {
		return
	}
	select {
	case d.batches <- replayBatch{cmds: d.pending, dbs: d.dbs}:
	case <-ctx.Done():
	}
	d.pending, d.dbs, d.bytes = nil, nil, 0
}

// worker sends d's batches in order and records each key's outcome.
func (r *replayer) worker(ctx context.Context, d *replayDest) {
	defer r.wg.Done()
	for b := range d.batches {
		if r.fatal.Load() != nil {
			continue // drain
		}
		errs, err := d.client.RestoreBatch(ctx, b.cmds)
		if err != nil {
			err = fmt.Errorf("replay into %s: %w", d.name, err)
			r.fatal.CompareAndSwap(nil, &err)
			continue
		}
		var ok, bytes int64
		for i, e := range errs {
			if e != nil {
				r.fail(KeyFailure{DB: b.dbs[i], Key: string(b.cmds[i].Key), Node: d.name, Err: e.Error()})
				continue
			}
			ok++
			bytes += int64(len(b.cmds[i].Payload))
		}
		r.mu.Lock()
		r.rep.Restored += ok
		r.rep.Bytes += bytes
		r.mu.Unlock()
	}
}

// fail records a key the target did not restore, and logs it.
func (r *replayer) fail(f KeyFailure) {
	r.log.Warn("key not restored", "db", f.DB, "key", f.Key, "node", f.Node, "error", f.Err)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Failed++
	if len(r.rep.Failures) < MaxListedFailures {
		r.rep.Failures = append(r.rep.Failures, f)
	}
}

// loadFunctions loads the backup's function libraries into every master
// (a standalone target: the server itself). A target without FUNCTION
// (before 7.0) cannot take them: that is an error, not a silent skip.
func (r *replayer) loadFunctions(ctx context.Context, m *storage.Manifest, dial func(string) *nodeConn, seed *redis.Client, rt restore.ReplayTarget) error {
	if len(r.codes) == 0 {
		return nil
	}
	libs := map[string]bool{}
	var codes []string
	for _, c := range r.codes {
		if !libs[c] {
			libs[c] = true
			codes = append(codes, c)
		}
	}
	targets := []*redis.Client{seed}
	if r.router != nil {
		ci, err := readCluster(ctx, seed)
		if err != nil {
			return err
		}
		targets = nil
		for _, s := range ci.topo.Shards {
			n := dial(s.Master.Addr)
			defer n.Close()
			targets = append(targets, n.client)
		}
	}
	for _, c := range targets {
		for _, code := range codes {
			if err := c.FunctionLoad(ctx, code); err != nil {
				return fmt.Errorf("load the backup's %d function libraries into %s (%s): %w; the keys were restored", len(codes), c.Addr(), rt, err)
			}
		}
	}
	r.rep.Functions = len(codes)
	return nil
}

// OpenReplay checks the Redis url of restore --replay-to (ReplayTo, with
// rr's password file) before it opens the backup rr names (OpenBackup).
// The caller closes the backup.
func (a *App) OpenReplay(ctx context.Context, r Request, rr RestoreRequest, url string) (*Opened, *config.Target, error) {
	to, err := ReplayTo(url, rr.PasswordFile)
	if err != nil {
		return nil, nil, err
	}
	b, err := a.OpenBackup(ctx, r, rr)
	if err != nil {
		return nil, nil, err
	}
	return b, to, nil
}

// ReplayTo builds the target of restore --replay-to URL: a Redis URL (any
// node of a cluster), the password from the URL, passFile, or the
// REDIS_PASSWORD or REDISCLI_AUTH environment variable.
func ReplayTo(url, passFile string) (*config.Target, error) {
	if config.BareAddr(url) {
		return nil, UsageError{Err: fmt.Errorf("--replay-to %s has no scheme: use redis://%s, or rediss:// for TLS", url, url)}
	}
	if !strings.HasPrefix(url, "redis://") && !strings.HasPrefix(url, "rediss://") {
		return nil, UsageError{Err: fmt.Errorf("--replay-to %q: use redis://[user[:password]@]host:port (any node of a cluster), or rediss:// for TLS", storage.Redact(url))}
	}
	t := &config.Target{Name: "replay", Redis: url, PasswordFile: passFile}
	if _, _, err := t.Endpoint(); err != nil {
		return nil, UsageError{Err: fmt.Errorf("--replay-to: %w", err)}
	}
	if passFile == "" {
		for _, env := range []string{"REDIS_PASSWORD", "REDISCLI_AUTH"} {
			if os.Getenv(env) != "" {
				t.PasswordEnv = env
				break
			}
		}
	}
	return t, nil
}
