package config

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/schedule"
)

// Drill configures restore drills (rdbak drill, and rdbak daemon when a
// schedule is set): the backup is restored into a scratch server and
// checked there, never in the live Redis. A target inherits each field it
// does not set from defaults.drill.
type Drill struct {
	// Schedule is when rdbak daemon drills the target's latest backup: a
	// cron spec as for backups. Unset: defaults.drill.schedule; set to ""
	// (or unset there too): no scheduled drills.
	Schedule string `yaml:"schedule"`
	// Timeout bounds one drill: fetch, load and checks. 0 means
	// DefaultDrillTimeout (see TimeoutOrDefault).
	Timeout time.Duration `yaml:"timeout"`
	// Checks are read-only commands run on the scratch server once the
	// backup has loaded, each with the reply it must give.
	Checks []DrillCheck `yaml:"checks"`
	// Servers are redis-server or valkey-server binaries a drill may load
	// the backup into, besides those on PATH. Relative to the config file.
	Servers []string `yaml:"servers"`
	// Runner is where the scratch server runs: "local" (a redis-server or
	// valkey-server on this host), "pod" (a short-lived pod in the
	// target's namespace running the target's own image, for targets with
	// a kubernetes block) or "auto" (the default: local when a compatible
	// server is on this host, else a pod for targets in Kubernetes).
	Runner string `yaml:"runner"`
}

// Drill runners (Drill.Runner).
const (
	RunnerAuto  = "auto"
	RunnerLocal = "local"
	RunnerPod   = "pod"
)

// RunnerOrDefault is Runner, or RunnerAuto when unset.
func (d Drill) RunnerOrDefault() string {
	if d.Runner == "" {
		return RunnerAuto
	}
	return d.Runner
}

// DrillCheck is one user check of a drill.
type DrillCheck struct {
	// Command is a read-only Redis command, words separated by spaces,
	// quoted as in redis-cli: EXISTS config:site.
	Command string `yaml:"command"`
	// Expect is the reply, as redis-cli --raw prints it: 1, a string,
	// (nil), or an array's elements one a line.
	Expect string `yaml:"expect"`
	// DB is the database the command runs in; default 0.
	DB int `yaml:"db"`
}

// DefaultDrillTimeout bounds a drill whose timeout is not set.
const DefaultDrillTimeout = 30 * time.Minute

// TimeoutOrDefault is Timeout, or DefaultDrillTimeout when unset.
func (d Drill) TimeoutOrDefault() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return DefaultDrillTimeout
}

// applyDrillDefaults fills target i's drill fields from defaults.drill.
func (f *File) applyDrillDefaults(i int) {
	t := &f.Targets[i]
	p := fmt.Sprintf("targets[%d].drill", i)
	d := f.Defaults.Drill
	if !f.isSet(p+".schedule", t.Drill.Schedule != "") {
		t.Drill.Schedule = d.Schedule
	}
	if !f.isSet(p+".timeout", t.Drill.Timeout != 0) {
		t.Drill.Timeout = d.Timeout
	}
	if !f.isSet(p+".checks", len(t.Drill.Checks) > 0) {
		t.Drill.Checks = d.Checks
	}
	if !f.isSet(p+".servers", len(t.Drill.Servers) > 0) {
		t.Drill.Servers = d.Servers
	}
	if !f.isSet(p+".runner", t.Drill.Runner != "") {
		t.Drill.Runner = d.Runner
	}
}

// relativeServers makes the drill's server paths relative to the config file.
func (f *File) relativeServers(d *Drill) {
	for i, p := range d.Servers {
		if p != "" && !filepath.IsAbs(p) {
			d.Servers[i] = filepath.Join(filepath.Dir(f.path), p)
		}
	}
}

// DrillSpec returns the target's parsed drill schedule; the zero Spec when
// it has none.
func (t *Target) DrillSpec() (schedule.Spec, error) {
	if t.Drill.Schedule == "" {
		return schedule.Spec{}, nil
	}
	s, err := schedule.ParseSpec(t.Drill.Schedule)
	if err != nil {
		return s, fmt.Errorf("drill schedule of target %q: %w", t.Name, err)
	}
	return s, nil
}

// UserChecks returns the drill's checks in the drill package's terms.
func (d Drill) UserChecks() []drill.UserCheck {
	out := make([]drill.UserCheck, len(d.Checks))
	for i, c := range d.Checks {
		out[i] = drill.UserCheck{Command: c.Command, Expect: c.Expect, DB: c.DB}
	}
	return out
}

func (v *validator) drill(p string, d Drill) {
	v.spec(p+".schedule", d.Schedule)
	v.nonNegative(p+".timeout", d.Timeout)
	for i, c := range d.Checks {
		cp := fmt.Sprintf("%s.checks[%d]", p, i)
		if c.Command == "" {
			v.fail(cp+".command", "missing", `write a read-only command, e.g. command: "EXISTS config:site"`)
		} else if _, err := drill.ParseCommand(c.Command); err != nil {
			v.fail(cp+".command", err.Error(), "drill checks may only read: use commands such as EXISTS, GET, HGET, SCARD, ZSCORE, TYPE or DBSIZE")
		}
		if _, set := v.f.origin[cp+".expect"]; !set && c.Expect == "" {
			v.fail(cp+".expect", "missing", `write the reply the command must give, e.g. expect: "1"`)
		}
		if c.DB < 0 {
			v.fail(cp+".db", "must not be negative", "omit it for db 0")
		}
	}
	switch d.Runner {
	case "", RunnerAuto, RunnerLocal, RunnerPod:
	default:
		v.fail(p+".runner", fmt.Sprintf("%q is not a drill runner", d.Runner), "use local, pod or auto (the default)")
	}
	for i, s := range d.Servers {
		if s == "" {
			v.fail(fmt.Sprintf("%s.servers[%d]", p, i), "empty", "give the path of a redis-server or valkey-server binary")
		}
	}
}
