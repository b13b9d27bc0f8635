package drill

import (
	"maps"
	"slices"
	"time"
)

// Census counts the keys of a backup per db and kind (as TYPE names it),
// with their expire times, as read from the restored file. Expire times
// are kept per second within a window, so memory is bounded by the window,
// not by the number of keys.
type Census struct {
	from, to int64 // the window, Unix seconds: [from, to)
	dbs      map[int]*dbCensus
}

type dbCensus struct {
	kinds map[string]*Expiries
}

// Expiries counts keys by when they expire: those with no expire, those
// expiring before the window, per second within it, and after it.
type Expiries struct {
	Keys    uint64 // all keys, with an expire or not
	Expires uint64 // keys with an expire time
	Before  uint64 // expire time before the window's start
	At      map[int64]uint64
	After   uint64 // expire time at or after the window's end
}

// NewCensus returns an empty census whose expire times are kept to the
// second from from to to: from is when the census starts (before the scratch
// server is started), to when the drill must be over (its timeout).
func NewCensus(from, to time.Time) *Census {
	f, t := from.Unix(), to.Unix()+1
	if t <= f {
		t = f + 1
	}
	return &Census{from: f, to: t, dbs: map[int]*dbCensus{}}
}

// Add counts one key of db: its kind, and its expire time in Unix ms when
// expires.
func (c *Census) Add(db int, kind string, expires bool, expireMs int64) {
	d := c.dbs[db]
	if d == nil {
		d = &dbCensus{kinds: map[string]*Expiries{}}
		c.dbs[db] = d
	}
	e := d.kinds[kind]
	if e == nil {
		e = &Expiries{At: map[int64]uint64{}}
		d.kinds[kind] = e
	}
	e.Keys++
	if !expires {
		return
	}
	e.Expires++
	// Second s holds the expire times in [s, s+1) s.
	s := expireMs / 1000
	if expireMs < 0 && expireMs%1000 != 0 {
		s--
	}
	switch {
	case s < c.from:
		e.Before++
	case s >= c.to:
		e.After++
	default:
		e.At[s]++
	}
}

// DBs returns the db indexes with keys, ascending.
func (c *Census) DBs() []int { return slices.Sorted(maps.Keys(c.dbs)) }

// Kinds returns the kinds of db's keys, sorted.
func (c *Census) Kinds(db int) []string {
	d := c.dbs[db]
	if d == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(d.kinds))
}

// Kind returns the counts of db's keys of kind (nil when none).
func (c *Census) Kind(db int, kind string) *Expiries {
	if d := c.dbs[db]; d != nil {
		return d.kinds[kind]
	}
	return nil
}

// DB returns the counts of all of db's keys, over kinds.
func (c *Census) DB(db int) Expiries {
	sum := Expiries{At: map[int64]uint64{}}
	if d := c.dbs[db]; d != nil {
		for _, e := range d.kinds {
			sum.Keys += e.Keys
			sum.Expires += e.Expires
			sum.Before += e.Before
			sum.After += e.After
			for s, n := range e.At {
				sum.At[s] += n
			}
		}
	}
	return sum
}

// Total returns the counts over every db and kind.
func (c *Census) Total() Expiries {
	sum := Expiries{At: map[int64]uint64{}}
	for db := range c.dbs {
		e := c.DB(db)
		sum.Keys += e.Keys
		sum.Expires += e.Expires
		sum.Before += e.Before
		sum.After += e.After
		for s, n := range e.At {
			sum.At[s] += n
		}
	}
	return sum
}

// Gone bounds how many of the keys counted in e have expired by t: at
// least certain (expire time before t's second, so passed at t), at most
// possible (expire time up to the end of t's second; when t is past the
// window, any key expiring after it too). A t before the window (which the
// drill never asks for: the census starts first) bounds nothing.
func (c *Census) Gone(e Expiries, t time.Time) (certain, possible uint64) {
	s := t.Unix()
	if s < c.from {
		return 0, e.Expires
	}
	certain, possible = e.Before, e.Before
	for sec, n := range e.At {
		if sec < s {
			certain += n
		}
		if sec <= s {
			possible += n
		}
	}
	if s >= c.to { // past the window: any of the later ones may be gone
		possible += e.After
	}
	return certain, possible
}
