package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rdbak/rdbak/schedule"
)

// Defaults are the schedule settings every target inherits unless it sets
// its own. A target's retention block replaces the default one as a whole;
// fields are not merged one by one.
type Defaults struct {
	Schedule  string        `yaml:"schedule"`
	Jitter    time.Duration `yaml:"jitter"`
	Timeout   time.Duration `yaml:"timeout"`
	Retention Retention     `yaml:"retention"`
	// Encryption is inherited whole by targets without their own; a
	// target's own block without recipients inherits only the recipients.
	Encryption Encryption `yaml:"encryption"`
	// Drill is inherited field by field by targets (see Drill).
	Drill Drill `yaml:"drill"`
	// Notify is inherited whole by targets without their own.
	Notify Notify `yaml:"notify"`
}

// Retention is a target's retention policy, applied after each successful
// backup and by rdbak prune (see schedule.Policy). With no keep rule, every
// backup is kept.
type Retention struct {
	KeepLast    int `yaml:"keepLast"`
	KeepHourly  int `yaml:"keepHourly"`
	KeepDaily   int `yaml:"keepDaily"`
	KeepWeekly  int `yaml:"keepWeekly"`
	KeepMonthly int `yaml:"keepMonthly"`
	KeepYearly  int `yaml:"keepYearly"`
	// KeepWithin is a duration counted back from the newest backup, in Go
	// syntax with d for days: 36h, 7d, 1d12h.
	KeepWithin string `yaml:"keepWithin"`
	// MinKeep is a floor: never keep fewer backups than this.
	MinKeep int `yaml:"minKeep"`
	// TimeZone is the IANA zone of the calendar rules (keepDaily counts
	// days there). Default: the schedule's CRON_TZ=, else the process's
	// local zone (TZ; UTC in most containers).
	TimeZone string `yaml:"timeZone"`
}

// Heartbeat is a dead-man switch: a URL called after each successful
// (stream-verified, committed) backup, so that a monitoring service raises
// an alarm when the calls stop. The URL often holds a token: it is never
// shown in messages or logs.
type Heartbeat struct {
	URL     string        `yaml:"url"`
	Method  string        `yaml:"method"`  // GET (default) or POST
	Timeout time.Duration `yaml:"timeout"` // default 10s
}

// Daemon configures rdbak daemon; other commands ignore it.
type Daemon struct {
	// Listen is the address of /metrics, /healthz and /readyz; the
	// --listen flag overrides it. Default :9090.
	Listen string `yaml:"listen"`
	// Concurrency is how many backups may run at once, over all targets.
	// Default 2.
	Concurrency int `yaml:"concurrency"`
	// ShutdownGrace is how long backups in flight may run on after
	// SIGTERM before they are cancelled (a cancelled backup leaves
	// nothing behind). Keep it below the pod's terminationGracePeriodSeconds.
	// Default 25s.
	ShutdownGrace time.Duration `yaml:"shutdownGrace"`
	// OrphanGrace is the age after which data without a manifest, left by
	// a killed backup, is deleted after each successful backup. Default 24h.
	OrphanGrace    time.Duration  `yaml:"orphanGrace"`
	LeaderElection LeaderElection `yaml:"leaderElection"`
	// Executor is where scheduled backups run: in-process (default), or
	// job: each one as a Kubernetes Job (executor.go).
	Executor string    `yaml:"executor"`
	Job      DaemonJob `yaml:"job"`
}

// LeaderElection lets several daemon replicas run with only one scheduling
// backups, the holder of a coordination.k8s.io Lease.
type LeaderElection struct {
	Enabled bool `yaml:"enabled"`
	// Namespace of the Lease; default the pod's own namespace.
	Namespace string `yaml:"namespace"`
	// Name of the Lease; default rdbak-daemon.
	Name string `yaml:"name"`
	// LeaseDuration, RenewDeadline and RetryPeriod are client-go's
	// leaderelection timings; defaults 15s, 10s and 2s.
	LeaseDuration time.Duration `yaml:"leaseDuration"`
	RenewDeadline time.Duration `yaml:"renewDeadline"`
	RetryPeriod   time.Duration `yaml:"retryPeriod"`
}

// Daemon defaults.
const (
	DefaultListen           = ":9090"
	DefaultConcurrency      = 2
	DefaultShutdownGrace    = 25 * time.Second
	DefaultOrphanGrace      = 24 * time.Hour
	DefaultHeartbeatTimeout = 10 * time.Second
	DefaultLeaseName        = "rdbak-daemon"
)

// applyScheduleDefaults merges defaults into the targets and fills in the
// daemon's defaults. It runs after Validate, which checks each value where
// it is written (so an inherited mistake is reported once, at defaults).
func (f *File) applyScheduleDefaults() {
	d := &f.Daemon
	if d.Listen == "" {
		d.Listen = DefaultListen
	}
	if d.Concurrency == 0 {
		d.Concurrency = DefaultConcurrency
	}
	if _, set := f.origin["daemon.shutdownGrace"]; !set && d.ShutdownGrace == 0 {
		d.ShutdownGrace = DefaultShutdownGrace
	}
	if d.OrphanGrace == 0 {
		d.OrphanGrace = DefaultOrphanGrace
	}
	f.applyJobDefaults()
	le := &d.LeaderElection
	if le.Name == "" {
		le.Name = DefaultLeaseName
	}
	if le.LeaseDuration == 0 {
		le.LeaseDuration = 15 * time.Second
	}
	if le.RenewDeadline == 0 {
		le.RenewDeadline = 10 * time.Second
	}
	if le.RetryPeriod == 0 {
		le.RetryPeriod = 2 * time.Second
	}
	for i := range f.Targets {
		t := &f.Targets[i]
		p := fmt.Sprintf("targets[%d]", i)
		// schedule: "" opts a target out of defaults.schedule, as it
		// does for drills; Warnings names such a target.
		if !f.isSet(p+".schedule", t.Schedule != "") {
			t.Schedule = f.Defaults.Schedule
		}
		if !f.isSet(p+".jitter", t.Jitter != 0) {
			t.Jitter = f.Defaults.Jitter
		}
		if !f.isSet(p+".timeout", t.Timeout != 0) {
			t.Timeout = f.Defaults.Timeout
		}
		if !f.isSet(p+".retention", t.Retention != Retention{}) {
			t.Retention = f.Defaults.Retention
		}
		e := &t.Encryption
		if !f.isSet(p+".encryption", e.set()) {
			*e = f.Defaults.Encryption
		}
		// A block that names only identities (to verify and restore) keeps
		// the inherited recipients: without them, backups would silently
		// be written in plaintext.
		if !e.Encrypts() {
			e.Recipients, e.RecipientsFile = f.Defaults.Encryption.Recipients, f.Defaults.Encryption.RecipientsFile
		}
		f.applyDrillDefaults(i)
		f.applyNotifyDefaults(i)
		if t.Heartbeat.URL != "" {
			if t.Heartbeat.Method == "" {
				t.Heartbeat.Method = "GET"
			}
			if t.Heartbeat.Timeout == 0 {
				t.Heartbeat.Timeout = DefaultHeartbeatTimeout
			}
		}
	}
}

// isSet reports whether the field at path was written in the file (even
// as 0 or {}), or, for a File built in code, whether it is non-zero.
func (f *File) isSet(path string, nonZero bool) bool {
	_, ok := f.origin[path]
	return ok || nonZero
}

// Spec returns the target's parsed schedule; the zero Spec when the
// target has none (it is then backed up only by rdbak now).
func (t *Target) Spec() (schedule.Spec, error) {
	if t.Schedule == "" {
		return schedule.Spec{}, nil
	}
	s, err := schedule.ParseSpec(t.Schedule)
	if err != nil {
		return s, fmt.Errorf("schedule of target %q: %w", t.Name, err)
	}
	return s, nil
}

// Policy returns the target's retention policy; the zero Policy (keep
// everything) when it has no keep rule.
func (t *Target) Policy() (schedule.Policy, error) {
	r := t.Retention
	p := schedule.Policy{
		Last: r.KeepLast, Hourly: r.KeepHourly, Daily: r.KeepDaily, Weekly: r.KeepWeekly,
		Monthly: r.KeepMonthly, Yearly: r.KeepYearly, MinKeep: r.MinKeep, Location: time.Local,
	}
	var err error
	if r.KeepWithin != "" {
		if p.Within, err = ParseDuration(r.KeepWithin); err != nil {
			return p, fmt.Errorf("retention of target %q: keepWithin: %w", t.Name, err)
		}
	}
	switch {
	case r.TimeZone != "":
		if p.Location, err = time.LoadLocation(r.TimeZone); err != nil {
			return p, fmt.Errorf("retention of target %q: timeZone: %w", t.Name, err)
		}
	default:
		s, err := t.Spec()
		if err != nil {
			return p, err
		}
		if s.Location() != nil {
			p.Location = s.Location()
		}
	}
	return p, nil
}

var daysRE = regexp.MustCompile(`^(\d+)d(.*)$`)

// ParseDuration is time.ParseDuration that also takes whole days first:
// 7d, 1d12h. A day is 24 hours.
func ParseDuration(s string) (time.Duration, error) {
	var days time.Duration
	if m := daysRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100*365 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		if s = m[2]; s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return days + d, nil
}

// schedules checks defaults, daemon and the targets' schedule, retention
// and heartbeat fields.
func (v *validator) schedules() {
	f := v.f
	v.spec("defaults.schedule", f.Defaults.Schedule)
	v.nonNegative("defaults.jitter", f.Defaults.Jitter)
	v.nonNegative("defaults.timeout", f.Defaults.Timeout)
	v.retention("defaults.retention", f.Defaults.Retention)
	v.drill("defaults.drill", f.Defaults.Drill)
	v.notify("defaults.notify", f.Defaults.Notify)
	for i := range f.Targets {
		t := &f.Targets[i]
		p := fmt.Sprintf("targets[%d]", i)
		v.spec(p+".schedule", t.Schedule)
		v.nonNegative(p+".jitter", t.Jitter)
		v.retention(p+".retention", t.Retention)
		v.heartbeat(p+".heartbeat", t.Heartbeat)
		v.drill(p+".drill", t.Drill)
		if t.Drill.Runner == RunnerPod && t.Kubernetes == nil {
			v.fail(p+".drill.runner", "pod needs the target's kubernetes block: the scratch pod runs the target's own image", "add kubernetes: to the target, or use runner: local")
		}
		v.notify(p+".notify", t.Notify)
	}
	v.daemon()
}

func (v *validator) spec(path, s string) {
	if s == "" {
		return
	}
	if _, err := schedule.ParseSpec(s); err != nil {
		v.fail(path, "invalid schedule "+v.show(path, s)+": "+strings.TrimPrefix(err.Error(), "parse schedule: "),
			`use 5 cron fields (minute hour day-of-month month day-of-week), @hourly, @daily, @weekly or @every 30m, optionally after CRON_TZ=Europe/Oslo`)
	}
}

func (v *validator) nonNegative(path string, d time.Duration) {
	if d < 0 {
		v.fail(path, "must not be negative", "omit it, or write e.g. 5m")
	}
}

func (v *validator) retention(p string, r Retention) {
	for _, c := range []struct {
		name string
		n    int
	}{{"keepLast", r.KeepLast}, {"keepHourly", r.KeepHourly}, {"keepDaily", r.KeepDaily}, {"keepWeekly", r.KeepWeekly}, {"keepMonthly", r.KeepMonthly}, {"keepYearly", r.KeepYearly}, {"minKeep", r.MinKeep}} {
		if c.n < 0 {
			v.fail(p+"."+c.name, "must not be negative", "omit the rule to not use it")
		}
	}
	if r.KeepWithin != "" {
		if d, err := ParseDuration(r.KeepWithin); err != nil || d <= 0 {
			v.fail(p+".keepWithin", "invalid duration "+v.show(p+".keepWithin", r.KeepWithin), "write e.g. 36h, 7d or 1d12h")
		}
	}
	if r.TimeZone != "" {
		if _, err := time.LoadLocation(r.TimeZone); err != nil {
			v.fail(p+".timeZone", "unknown time zone "+v.show(p+".timeZone", r.TimeZone), "use an IANA name such as Europe/Oslo or UTC")
		}
	}
	rules := r
	rules.MinKeep, rules.TimeZone = 0, ""
	if r.MinKeep > 0 && rules == (Retention{}) {
		v.fail(p+".minKeep", "set without a keep rule, and without one every backup is kept anyway",
			"add a rule such as keepDaily: 7, or remove minKeep")
	}
}

func (v *validator) heartbeat(p string, h Heartbeat) {
	if h == (Heartbeat{}) {
		return
	}
	// The URL is never shown: it is often the secret itself.
	u, err := url.Parse(h.URL)
	switch {
	case h.URL == "":
		v.fail(p+".url", "missing", "give the URL of the dead-man switch, e.g. https://hc-ping.com/<uuid>")
	case err != nil:
		v.fail(p+".url", "not a valid URL: "+urlErr(err).Error(), "")
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		v.fail(p+".url", "must be an http:// or https:// URL with a host", "")
	}
	switch h.Method {
	case "", "GET", "POST":
	default:
		v.fail(p+".method", "unsupported method "+v.show(p+".method", h.Method), "use GET (default) or POST")
	}
	v.nonNegative(p+".timeout", h.Timeout)
}

func (v *validator) daemon() {
	d := v.f.Daemon
	if d.Listen != "" {
		if _, port, err := net.SplitHostPort(d.Listen); err != nil || port == "" {
			v.fail("daemon.listen", "invalid address "+v.show("daemon.listen", d.Listen), "write host:port or :port, e.g. :9090 or 127.0.0.1:9090")
		}
	}
	if d.Concurrency < 0 {
		v.fail("daemon.concurrency", "must not be negative", fmt.Sprintf("omit it for %d", DefaultConcurrency))
	}
	v.nonNegative("daemon.shutdownGrace", d.ShutdownGrace)
	if d.OrphanGrace != 0 && d.OrphanGrace < time.Minute {
		v.fail("daemon.orphanGrace", "shorter than 1m: the data of a backup still uploading could be collected", "omit it for 24h")
	}
	v.executor()
	le := d.LeaderElection
	p := "daemon.leaderElection"
	if le.Name != "" && !dnsLabel.MatchString(le.Name) {
		v.fail(p+".name", "invalid Lease name "+v.show(p+".name", le.Name), "use lower-case letters, digits and '-', e.g. rdbak-daemon")
	}
	if le.Namespace != "" && !dnsLabel.MatchString(le.Namespace) {
		v.fail(p+".namespace", "invalid namespace "+v.show(p+".namespace", le.Namespace), "")
	}
	lease, renew, retry := or(le.LeaseDuration, 15*time.Second), or(le.RenewDeadline, 10*time.Second), or(le.RetryPeriod, 2*time.Second)
	switch {
	case lease < 0 || renew < 0 || retry < 0:
		v.fail(p, "durations must not be negative", "")
	case lease <= renew:
		v.fail(p+".renewDeadline", "must be shorter than leaseDuration", "e.g. leaseDuration: 15s, renewDeadline: 10s")
	case float64(renew) <= 1.2*float64(retry):
		// client-go's leaderelection refuses this combination.
		v.fail(p+".retryPeriod", "must be shorter than renewDeadline / 1.2", "e.g. renewDeadline: 10s, retryPeriod: 2s")
	}
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
