package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

const daemonExamplePath = "../../deploy/examples/rdbak-daemon.yaml"

func TestScheduleDefaultsMerge(t *testing.T) {
	f := mustParse(t, `
storage: file:///b
defaults:
  schedule: "CRON_TZ=Europe/Oslo 0 3 * * *"
  jitter: 5m
  timeout: 1h
  retention: {keepDaily: 7, keepWeekly: 4}
targets:
  - name: inherits
    redis: redis://h:1
  - name: overrides
    redis: redis://h:2
    schedule: "@every 1h"
    jitter: 0s
    timeout: 10m
    retention: {keepLast: 24, minKeep: 3}
    heartbeat: {url: "https://hc.example/ping/abc"}
  - name: keeps-all
    redis: redis://h:3
    retention: {}
`, nil)
	in, over, all := f.Targets[0], f.Targets[1], f.Targets[2]
	if in.Schedule != "CRON_TZ=Europe/Oslo 0 3 * * *" || in.Jitter != 5*time.Minute || in.Timeout != time.Hour ||
		in.Retention != (Retention{KeepDaily: 7, KeepWeekly: 4}) {
		t.Errorf("inheriting target = %+v", in)
	}
	if over.Schedule != "@every 1h" || over.Jitter != 0 || over.Timeout != 10*time.Minute ||
		over.Retention != (Retention{KeepLast: 24, MinKeep: 3}) {
		t.Errorf("overriding target = %+v; want its own values, an explicit jitter 0 kept", over)
	}
	if over.Heartbeat != (Heartbeat{URL: "https://hc.example/ping/abc", Method: "GET", Timeout: 10 * time.Second}) {
		t.Errorf("heartbeat = %+v, want GET and 10s by default", over.Heartbeat)
	}
	if all.Retention != (Retention{}) {
		t.Errorf("retention: {} = %+v, want no rule (keep everything)", all.Retention)
	}
	if p, err := all.Policy(); err != nil || !p.IsZero() {
		t.Errorf("Policy() of retention: {} = %v, %v; want the zero policy", p, err)
	}
	want := Daemon{Listen: ":9090", Concurrency: 2, ShutdownGrace: 25 * time.Second, OrphanGrace: 24 * time.Hour,
		Executor: ExecutorInProcess, Job: DaemonJob{TTLSecondsAfterFinished: DefaultJobTTL},
		LeaderElection: LeaderElection{Name: "rdbak-daemon", LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}}
	if f.Daemon != want {
		t.Errorf("Daemon = %+v\nwant %+v", f.Daemon, want)
	}
	g := mustParse(t, "storage: file:///b\ndaemon: {shutdownGrace: 0s, listen: '127.0.0.1:0', concurrency: 5}\n"+okTarget, nil)
	if g.Daemon.ShutdownGrace != 0 || g.Daemon.Listen != "127.0.0.1:0" || g.Daemon.Concurrency != 5 {
		t.Errorf("Daemon = %+v, want an explicit shutdownGrace 0 kept", g.Daemon)
	}
}

func TestTargetSpecAndPolicy(t *testing.T) {
	f := mustParse(t, `
storage: file:///b
targets:
  - name: oslo
    redis: redis://h:1
    schedule: "CRON_TZ=Europe/Oslo 0 3 * * *"
    retention: {keepDaily: 7, keepWithin: 1d12h}
  - name: tokyo
    redis: redis://h:2
    schedule: "CRON_TZ=Europe/Oslo @daily"
    retention: {keepDaily: 7, timeZone: Asia/Tokyo}
  - name: local
    redis: redis://h:3
    schedule: "@every 1h"
    retention: {keepLast: 2}
  - name: manual
    redis: redis://h:4
`, nil)
	p, err := f.Targets[0].Policy()
	if err != nil || p.Daily != 7 || p.Within != 36*time.Hour || p.Location.String() != "Europe/Oslo" {
		t.Errorf("oslo Policy() = %+v, %v; want keepDaily 7, within 36h, the schedule's zone", p, err)
	}
	if p, _ := f.Targets[1].Policy(); p.Location.String() != "Asia/Tokyo" {
		t.Errorf("tokyo Policy().Location = %v, want the retention's own timeZone", p.Location)
	}
	if p, _ := f.Targets[2].Policy(); p.Location != time.Local || p.Last != 2 {
		t.Errorf("local Policy() = %+v, want the local zone", p)
	}
	if s, err := f.Targets[0].Spec(); err != nil || s.Next(utc(t, "2026-11-22T00:00:00Z")) != utc(t, "2026-11-22T02:00:00Z") {
		t.Errorf("oslo Spec() = %v, %v", s, err)
	}
	if s, err := f.Targets[3].Spec(); err != nil || !s.IsZero() {
		t.Errorf("Spec() of a target without schedule = %v, %v; want the zero Spec", s, err)
	}
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseDuration(t *testing.T) {
	for s, want := range map[string]time.Duration{"36h": 36 * time.Hour, "7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "90m": 90 * time.Minute, "0d30m": 30 * time.Minute} {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "7", "d", "7 d", "1w", "99999999999999999999d", "1d-"} {
		if got, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", s, got)
		}
	}
}

func TestScheduleErrors(t *testing.T) {
	const head = "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n"
	tests := []struct {
		name, yaml, field string
		line              int
		msg               string
	}{
		{"bad cron", head + "    schedule: \"0 3 * *\"\n", "targets[0].schedule", 5, `invalid schedule "0 3 * *": expected exactly 5 fields`},
		{"bad default cron", "defaults:\n  schedule: \"@fortnightly\"\n" + head, "defaults.schedule", 2, "unrecognized descriptor"},
		{"bad zone", head + "    schedule: \"CRON_TZ=Mars/Base 0 3 * * *\"\n", "targets[0].schedule", 5, `unknown time zone "Mars/Base"`},
		{"zone without spec", head + "    schedule: CRON_TZ=UTC\n", "targets[0].schedule", 5, "must be followed by a spec"},
		{"every too short", head + "    schedule: \"@every 100ms\"\n", "targets[0].schedule", 5, "at least 1s"},
		{"negative jitter", head + "    jitter: -5m\n", "targets[0].jitter", 5, "must not be negative"},
		{"negative default timeout", "defaults: {timeout: -1m}\n" + head, "defaults.timeout", 1, "must not be negative"},
		{"negative keep", head + "    retention: {keepDaily: -1}\n", "targets[0].retention.keepDaily", 5, "must not be negative"},
		{"bad keepWithin", head + "    retention:\n      keepWithin: 2 days\n", "targets[0].retention.keepWithin", 6, `invalid duration "2 days"`},
		{"bad timeZone", "defaults:\n  retention:\n    keepLast: 2\n    timeZone: Oslo\n" + head, "defaults.retention.timeZone", 4, `unknown time zone "Oslo"`},
		{"minKeep alone", head + "    retention:\n      minKeep: 3\n", "targets[0].retention.minKeep", 6, "without a keep rule"},
		{"unknown retention field", head + "    retention: {keepDayly: 3}\n", "", 5, `unknown field "keepDayly" in targets[0].retention`},
		{"heartbeat without url", head + "    heartbeat: {method: POST}\n", "targets[0].heartbeat.url", 5, "missing"},
		{"heartbeat not http", head + "    heartbeat: {url: \"ftp://x/y\"}\n", "targets[0].heartbeat.url", 5, "http:// or https://"},
		{"heartbeat method", head + "    heartbeat: {url: \"https://x/y\", method: PUT}\n", "targets[0].heartbeat.method", 5, `unsupported method "PUT"`},
		{"listen", "daemon: {listen: \"9090\"}\n" + head, "daemon.listen", 1, `invalid address "9090"`},
		{"concurrency", "daemon: {concurrency: -1}\n" + head, "daemon.concurrency", 1, "must not be negative"},
		{"orphan grace", "daemon:\n  orphanGrace: 10s\n" + head, "daemon.orphanGrace", 2, "shorter than 1m"},
		{"lease timings", "daemon:\n  leaderElection:\n    enabled: true\n    leaseDuration: 5s\n    renewDeadline: 5s\n" + head, "daemon.leaderElection.renewDeadline", 5, "shorter than leaseDuration"},
		{"retry period", "daemon:\n  leaderElection: {retryPeriod: 9s}\n" + head, "daemon.leaderElection.retryPeriod", 2, "renewDeadline / 1.2"},
		{"lease name", "daemon:\n  leaderElection: {name: Rdbak_Lease}\n" + head, "daemon.leaderElection.name", 2, "invalid Lease name"},
		{"executor", "daemon: {executor: cronjob}\n" + head, "daemon.executor", 1, `unknown executor "cronjob"`},
		{"job memory", "daemon:\n  job:\n    resources:\n      limits: {memory: 1GB of RAM}\n" + head, "daemon.job.resources.limits.memory", 4, `invalid quantity "1GB of RAM"`},
		{"job negative cpu", "daemon:\n  job:\n    resources:\n      requests: {cpu: -100m}\n" + head, "daemon.job.resources.requests.cpu", 4, `invalid quantity "-100m"`},
		{"job ttl", "daemon:\n  job: {ttlSecondsAfterFinished: 5}\n" + head, "daemon.job.ttlSecondsAfterFinished", 2, "shorter than 60"},
		{"job backoff", "daemon:\n  job: {backoffLimit: -1}\n" + head, "daemon.job.backoffLimit", 2, "must not be negative"},
		{"enabled not a bool", "daemon:\n  leaderElection: {enabled: yes please}\n" + head, "daemon.leaderElection.enabled", 2, "expected true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "rdbak.yaml", mapEnv(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, fe := range fieldErrors(t, err) {
				if fe.Field == tt.field && fe.Line == tt.line && strings.Contains(fe.Msg, tt.msg) {
					return
				}
			}
			t.Errorf("error %q does not name %s at line %d with %q", err, tt.field, tt.line, tt.msg)
		})
	}
}

// TestHeartbeatURLNeverShown: the URL usually is the secret.
func TestHeartbeatURLNeverShown(t *testing.T) {
	yaml := "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    heartbeat: {url: \"hxxps://hc.example/ping/s3cr3t-uuid\", method: put}\n"
	_, err := Parse([]byte(yaml), "rdbak.yaml", mapEnv(nil))
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("err = %v; want an error that does not show the URL", err)
	}
}

func TestLoadDaemonExample(t *testing.T) {
	f, err := Load(daemonExamplePath)
	if err != nil {
		t.Fatalf("Load(%s): %v", daemonExamplePath, err)
	}
	scheduled := 0
	for _, tg := range f.Targets {
		s, err := tg.Spec()
		if err != nil {
			t.Errorf("target %s: %v", tg.Name, err)
		}
		if _, err := tg.Policy(); err != nil {
			t.Errorf("target %s: %v", tg.Name, err)
		}
		if !s.IsZero() {
			scheduled++
		}
	}
	if scheduled != len(f.Targets) || len(f.Targets) < 2 {
		t.Errorf("the daemon example schedules %d of %d targets; want every target of several", scheduled, len(f.Targets))
	}
	t.Setenv("RDBAK_BUCKET", "b")
	g, err := Load(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if c := g.Targets[0]; c.Schedule != "@every 1h" || c.Retention.KeepLast != 24 || c.Heartbeat.URL == "" {
		t.Errorf("cache target of %s = %+v, want its own schedule, retention and heartbeat", examplePath, c)
	}
	if s := g.Targets[1]; s.Schedule != g.Defaults.Schedule || s.Retention != g.Defaults.Retention || s.Timeout != 30*time.Minute {
		t.Errorf("sessions target of %s = %+v, want the default schedule and retention and its own timeout", examplePath, s)
	}
}

// TestExampleShowsScheduleFields keeps deploy/examples/rdbak.yaml showing
// every schedule, retention, heartbeat and daemon field.
func TestExampleShowsScheduleFields(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Defaults](), reflect.TypeFor[Retention](), reflect.TypeFor[Heartbeat](), reflect.TypeFor[Daemon](), reflect.TypeFor[LeaderElection](), reflect.TypeFor[DaemonJob](), reflect.TypeFor[JobResources](), reflect.TypeFor[ResourceList]()} {
		for name := range yamlFields(typ) {
			if !regexp.MustCompile(`(?m)^[ #-]*` + name + `:`).Match(data) {
				t.Errorf("%s does not show %s.%s", examplePath, typ.Name(), name)
			}
		}
	}
}
