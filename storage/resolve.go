package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Latest is the backup reference that means the newest backup.
const Latest = "latest"

// ErrBadRef means a backup reference that is neither "latest" nor could be
// the start of an id (a typo such as "lastest", or a date): the user's to fix.
var ErrBadRef = errors.New("bad backup reference")

// idAlphabet holds every character an id may contain.
const idAlphabet = "0123456789abcdefTZ.-"

// ResolveOptions tunes Resolve and AsOf.
type ResolveOptions struct {
	// SkipDamaged lets "latest" and AsOf pass over newer backups that are
	// damaged and pick the newest usable one; the Selection says which were
	// skipped. Without it they fail naming the damaged backup: the newest
	// backup being unusable is what an operator must hear about, not an
	// older backup restored in silence. A backup named by id is never
	// skipped.
	SkipDamaged bool
}

// Selection is the backup a reference resolved to.
type Selection struct {
	Manifest *Manifest
	// Skipped are the newer backups passed over with SkipDamaged, newest
	// first.
	Skipped []Problem
}

// DamagedError is the error of Resolve and AsOf when the backup they would
// pick is damaged (or its manifest unreadable) and SkipDamaged is off. It
// wraps the problem's error, so it matches ErrDamaged when the backup was
// read and found unusable.
type DamagedError struct {
	Problem Problem
	// Fallback is the backup SkipDamaged would pick; nil when there is none.
	Fallback *Manifest
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("newest backup %s/%s cannot be used: %v", e.Problem.Target, e.Problem.ID, e.Problem.Err)
}

func (e *DamagedError) Unwrap() error { return e.Problem.Err }

// Get returns the manifest ref resolves to, without skipping damaged
// backups: Resolve with the zero ResolveOptions.
func (r *Repo) Get(ctx context.Context, target, ref string) (*Manifest, error) {
	s, err := r.Resolve(ctx, target, ref, ResolveOptions{})
	return s.Manifest, err
}

// Resolve finds the backup ref names among target's backups (all targets
// when target is ""): "latest" is the newest by creation time; otherwise ref
// is a full id, a unique prefix of one (20261122T0530), or a unique prefix
// of an id's random suffix (3f9a1c, as short ids go in restic). Several
// matches are ErrAmbiguous, listing them; none is ErrNotFound. The backup's
// data object must exist: a backup whose manifest exists but whose data is
// missing, or whose manifest is unreadable, is a *DamagedError (ErrDamaged).
func (r *Repo) Resolve(ctx context.Context, target, ref string, o ResolveOptions) (Selection, error) {
	if ref == Latest {
		return r.newest(ctx, target, time.Time{}, o)
	}
	if ref == "" || strings.Trim(ref, idAlphabet) != "" {
		return Selection{}, fmt.Errorf("%w: %q is neither %q nor an id or the start of one (20261122T053012.123456Z-3f9a1c, or its suffix 3f9a1c): see 'rdbak list'", ErrBadRef, ref, Latest)
	}
	if target != "" && ValidID(ref) {
		m, err := r.manifest(ctx, target, ref)
		if err != nil {
			return Selection{}, err
		}
		return Selection{Manifest: m}, r.checkData(ctx, m)
	}
	all, problems, err := r.List(ctx, target)
	if err != nil {
		return Selection{}, err
	}
	var ms []*Manifest
	var ps []Problem
	exact := slices.ContainsFunc(all, func(m *Manifest) bool { return m.ID == ref }) ||
		slices.ContainsFunc(problems, func(p Problem) bool { return p.ID == ref })
	match := func(id string) bool {
		if exact {
			return id == ref
		}
		return strings.HasPrefix(id, ref) || strings.HasPrefix(idSuffix(id), ref)
	}
	for _, m := range all {
		if match(m.ID) {
			ms = append(ms, m)
		}
	}
	for _, p := range problems {
		if match(p.ID) {
			ps = append(ps, p)
		}
	}
	switch n := len(ms) + len(ps); {
	case n == 0:
		return Selection{}, fmt.Errorf("%w: no backup id of %s in %s is or starts with %q: see 'rdbak list'", ErrNotFound, targetOrAll(target), r.display, ref)
	case n > 1:
		return Selection{}, ambiguous(ref, ms, ps)
	case len(ps) == 1:
		return Selection{}, fmt.Errorf("backup %s/%s cannot be used: %w", ps[0].Target, ps[0].ID, ps[0].Err)
	}
	return Selection{Manifest: ms[0]}, r.checkData(ctx, ms[0])
}

// ambiguous lists the backups an id prefix matches.
func ambiguous(ref string, ms []*Manifest, ps []Problem) error {
	var names, targets []string
	for _, m := range ms {
		names = append(names, m.Target+"/"+m.ID)
		targets = append(targets, m.Target)
	}
	for _, p := range ps {
		names = append(names, p.Target+"/"+p.ID+" (damaged)")
		targets = append(targets, p.Target)
	}
	slices.Sort(targets)
	hint := "give more of the id"
	if len(slices.Compact(targets)) > 1 {
		hint += ", or name the target with --target"
	}
	const show = 10
	more := ""
	if len(names) > show {
		more = fmt.Sprintf(" and %d more", len(names)-show)
		names = names[:show]
	}
	return fmt.Errorf("%w: %q matches %d backups: %s%s; %s", ErrAmbiguous, ref, len(ms)+len(ps), strings.Join(names, ", "), more, hint)
}

// AsOf returns the newest backup of target created at or before t, as
// Resolve does for "latest".
func (r *Repo) AsOf(ctx context.Context, target string, t time.Time, o ResolveOptions) (Selection, error) {
	if t.IsZero() {
		return Selection{}, errors.New("as-of time is zero")
	}
	return r.newest(ctx, target, t, o)
}

// newest returns the newest usable backup of target, created at or before
// asOf unless asOf is zero. A damaged backup counts as at least as new as
// a readable one whose id's time is not after its own; its creation time
// is that of its id, since its manifest cannot be read.
func (r *Repo) newest(ctx context.Context, target string, asOf time.Time, o ResolveOptions) (Selection, error) {
	all, problems, err := r.List(ctx, target)
	if err != nil {
		return Selection{}, err
	}
	if target == "" {
		ts := Targets(all)
		for _, p := range problems {
			ts = append(ts, p.Target)
		}
		slices.Sort(ts)
		if ts = slices.Compact(ts); len(ts) > 1 {
			return Selection{}, fmt.Errorf("%w: %q in %s could be any of targets %s; name one with --target", ErrAmbiguous, Latest, r.display, strings.Join(ts, ", "))
		}
	}
	if !asOf.IsZero() {
		all = slices.DeleteFunc(all, func(m *Manifest) bool { return m.Created.After(asOf) })
		problems = slices.DeleteFunc(problems, func(p Problem) bool {
			t, _ := IDTime(p.ID)
			return t.After(asOf)
		})
	}
	var skipped []Problem
	damaged := func(p Problem, i int) error {
		if o.SkipDamaged {
			skipped = append(skipped, p)
			return nil
		}
		e := &DamagedError{Problem: p}
		if fb, err := r.fallback(ctx, all[:i]); err == nil {
			e.Fallback = fb
		}
		return e
	}
	for i := len(all) - 1; i >= 0; i-- {
		c := all[i]
		ct, _ := IDTime(c.ID)
		for len(problems) > 0 {
			p := problems[len(problems)-1]
			if pt, _ := IDTime(p.ID); pt.Before(ct) {
				break
			}
			problems = problems[:len(problems)-1]
			if err := damaged(p, i+1); err != nil {
				return Selection{}, err
			}
		}
		if err := r.checkData(ctx, c); err != nil {
			if !errors.Is(err, ErrDamaged) {
				return Selection{}, err
			}
			if err := damaged(Problem{Key: dataKey(c.Target, c.ID, c.Data.Name), Target: c.Target, ID: c.ID, Err: err}, i); err != nil {
				return Selection{}, err
			}
			continue
		}
		return Selection{Manifest: c, Skipped: skipped}, nil
	}
	for i := len(problems) - 1; i >= 0; i-- {
		if err := damaged(problems[i], 0); err != nil {
			return Selection{}, err
		}
	}
	when := ""
	if !asOf.IsZero() {
		when = " at or before " + asOf.UTC().Format(time.RFC3339)
	}
	if len(skipped) > 0 {
		return Selection{Skipped: skipped}, fmt.Errorf("%w: every backup of %s%s in %s is damaged (%d)", ErrDamaged, targetOrAll(target), when, r.display, len(skipped))
	}
	return Selection{}, fmt.Errorf("%w: no backups of %s%s in %s", ErrNotFound, targetOrAll(target), when, r.display)
}

// fallback returns the backup newest would pick with SkipDamaged among ms
// (oldest first): the newest whose data exists.
func (r *Repo) fallback(ctx context.Context, ms []*Manifest) (*Manifest, error) {
	for i := len(ms) - 1; i >= 0; i-- {
		if err := r.checkData(ctx, ms[i]); err == nil {
			return ms[i], nil
		}
	}
	return nil, ErrNotFound
}

// checkData reports a missing data object of m (of any shard of a set) as
// ErrDamaged.
func (r *Repo) checkData(ctx context.Context, m *Manifest) error {
	for _, p := range m.Parts() {
		if err := r.checkObject(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (r *Repo) checkObject(ctx context.Context, m *Manifest) error {
	key := dataKey(m.Target, m.ID, m.Data.Name)
	ok, err := r.exists(ctx, key)
	switch {
	case err != nil:
		return r.scrub.err(fmt.Errorf("check data object %s in %s: %w", key, r.display, err))
	case !ok:
		return r.missingData(key, m.ID)
	}
	return nil
}

func (r *Repo) missingData(key, id string) error {
	return fmt.Errorf("%w: data object %s of backup %s is missing from %s", ErrDamaged, key, id, r.display)
}
