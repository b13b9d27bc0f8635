package drill

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rdbak/rdbak/storage"
)

// Check is one verdict of a drill, as the drill record stores it.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Observed is what the scratch server reported once it had loaded the
// backup.
type Observed struct {
	// Started is a time before the scratch server started (and so before
	// it could drop an expired key); Ended a time after the last answer.
	Started, Ended time.Time
	// Loaded and Expired are INFO's rdb_last_load_keys_loaded and
	// rdb_last_load_keys_expired (Redis 7.0+, Valkey); -1 when absent.
	Loaded, Expired int64
	// DBs is INFO keyspace, with each db's keys by kind (SCAN and TYPE).
	DBs map[int]ObservedDB
}

// ObservedDB is one db of the scratch server.
type ObservedDB struct {
	Keys, Expires int64
	// Kinds counts keys by TYPE; module types appear under their own
	// names, which Compare counts as KindModule.
	Kinds map[string]int64
}

// Kinds TYPE reports for the built-in types; any other answer is a module
// type's name.
var builtinKinds = []string{"string", "list", "set", "zset", "hash", "stream"}

// kindModule stands for every module type (the file holds only ids).
const kindModule = "module"

// CompareData judges what the scratch server loaded against the backup's
// manifest m and the census of the restored file c: per db, keys and
// expires, then keys per kind; with Redis 7.0+'s load counters, that every
// key was either loaded or dropped as expired. A key may be missing only
// if its expire time could have passed by o.Ended, and must be missing if
// it passed before o.Started.
func CompareData(m *storage.Manifest, c *Census, o Observed) []Check {
	if s := m.RDB.StructureOf(); s != storage.StructureVerified {
		return []Check{{Name: "keys", OK: true, Detail: "not compared: the backup's RDB structure is beyond this rdbak (" + s + "), so its key counts are unknown; the server's loader was the check"}}
	}
	var out []Check
	total := c.Total()
	if got, want := total.Keys, m.Keys(); got != want {
		return []Check{{Name: "keys", Detail: fmt.Sprintf("the restored file holds %d keys but the manifest says %d: the file is not the backup", got, want)}}
	}
	if o.Loaded >= 0 {
		out = append(out, loadCounters(c, total, o))
	}
	dbs := map[int]bool{}
	for _, db := range m.RDB.DBs {
		dbs[db.Index] = true
	}
	for db := range o.DBs {
		dbs[db] = true
	}
	for _, idx := range slices.Sorted(maps.Keys(dbs)) {
		out = append(out, compareDB(m, c, idx, o)...)
	}
	return out
}

func loadCounters(c *Census, total Expiries, o Observed) Check {
	ch := Check{Name: "load"}
	lo, _ := c.Gone(total, o.Started)
	_, hi := c.Gone(total, o.Ended)
	switch {
	case uint64(o.Loaded+o.Expired) != total.Keys:
		ch.Detail = fmt.Sprintf("the server loaded %d keys and dropped %d as expired, %d in all, but the backup holds %d", o.Loaded, o.Expired, o.Loaded+o.Expired, total.Keys)
	case uint64(o.Expired) < lo || uint64(o.Expired) > hi:
		ch.Detail = fmt.Sprintf("the server dropped %d keys as expired while loading; by their expire times %d to %d had expired", o.Expired, lo, hi)
	default:
		ch.OK = true
		ch.Detail = fmt.Sprintf("%d keys loaded, %d dropped as expired since the snapshot", o.Loaded, o.Expired)
	}
	return ch
}

// compareDB checks one db's keys, expires and kinds.
func compareDB(m *storage.Manifest, c *Census, idx int, o Observed) []Check {
	var want storage.DB
	for _, db := range m.RDB.DBs {
		if db.Index == idx {
			want = db
		}
	}
	got, seen := o.DBs[idx]
	e := c.DB(idx)
	name := fmt.Sprintf("db%d", idx)
	if e.Keys != want.Keys || e.Expires != want.Expires {
		return []Check{{Name: name + " keys", Detail: fmt.Sprintf("the restored file holds %d keys (%d with an expire) in db%d but the manifest says %d (%d): the file is not the backup",
			e.Keys, e.Expires, idx, want.Keys, want.Expires)}}
	}
	if !seen {
		got = ObservedDB{}
	}
	out := []Check{
		bounded(name+" keys", "keys", got.Keys, e.Keys, c, e, o),
		bounded(name+" expires", "keys with an expire", got.Expires, e.Expires, c, e, o),
	}
	if got.Kinds == nil {
		return out
	}
	var bad, good []string
	for _, kind := range kindsOf(c.Kinds(idx), got.Kinds) {
		ke := Expiries{}
		if p := c.Kind(idx, kind); p != nil {
			ke = *p
		}
		n := observedKind(got.Kinds, kind)
		lo, hi := present(c, ke, ke.Keys, o)
		if n < int64(lo) || n > int64(hi) {
			bad = append(bad, fmt.Sprintf("%s %d, expected %s", kind, n, span(lo, hi)))
		} else {
			good = append(good, fmt.Sprintf("%s %d", kind, n))
		}
	}
	ch := Check{Name: name + " types", OK: len(bad) == 0}
	if ch.OK {
		ch.Detail = strings.Join(good, ", ")
	} else {
		ch.Detail = "keys per type differ from the backup: " + strings.Join(bad, "; ")
	}
	return append(out, ch)
}

// bounded checks an observed count against the census count want, less
// the keys that may have expired (at most those expiring by o.Ended, at
// least those expired before o.Started).
func bounded(name, what string, got int64, want uint64, c *Census, e Expiries, o Observed) Check {
	lo, hi := present(c, e, want, o)
	ch := Check{Name: name, OK: got >= int64(lo) && got <= int64(hi)}
	switch {
	case !ch.OK:
		ch.Detail = fmt.Sprintf("the server holds %d %s, the backup %d: expected %s, allowing for the keys whose expire time passed since the snapshot", got, what, want, span(lo, hi))
	case uint64(got) == want:
		ch.Detail = fmt.Sprintf("%d %s, as in the backup", got, what)
	default:
		ch.Detail = fmt.Sprintf("%d %s of the backup's %d: the others expired since the snapshot", got, what, want)
	}
	return ch
}

// present bounds how many of want keys counted in e the server can hold:
// all but those whose expire time may have passed by o.Ended, at least; all
// but those whose expire time passed before o.Started, at most.
func present(c *Census, e Expiries, want uint64, o Observed) (lo, hi uint64) {
	lost, _ := c.Gone(e, o.Started)
	_, maybe := c.Gone(e, o.Ended)
	return want - min(maybe, want), want - min(lost, want)
}

func span(lo, hi uint64) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

// kindsOf returns the kinds of the census and the observed ones, module
// type names folded into kindModule, sorted.
func kindsOf(census []string, observed map[string]int64) []string {
	set := map[string]bool{}
	for _, k := range census {
		set[k] = true
	}
	for k := range observed {
		set[foldKind(k)] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func foldKind(k string) string {
	if slices.Contains(builtinKinds, k) {
		return k
	}
	return kindModule
}

// observedKind is the count of kind, summing module types for kindModule.
func observedKind(kinds map[string]int64, kind string) int64 {
	var n int64
	for k, v := range kinds {
		if foldKind(k) == kind {
			n += v
		}
	}
	return n
}
