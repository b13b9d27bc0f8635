package cli

import (
	"errors"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
)

// AddKubeFlags registers the flags of k on cmd; verb says what cmd does to
// the Redis they name ("back up", "restore into"). The kubeconfig flags
// are listed apart in --help, as kubectl's global flags are.
func AddKubeFlags(cmd *cobra.Command, k *app.KubeFlags, verb string) {
	k.Flags = AddKubectlFlags(cmd)
	f := pflag.NewFlagSet("kubernetes", pflag.ContinueOnError)
	f.StringVar(&k.Pod, "pod", "", verb+" the Redis in this pod: [namespace/]name")
	f.StringVar(&k.StatefulSet, "statefulset", "", verb+" the Redis of this StatefulSet: [namespace/]name")
	f.StringVar(&k.Deployment, "deployment", "", verb+" the Redis of this Deployment: [namespace/]name")
	f.StringVar(&k.Selector, "selector", "", verb+" the Redis pod matching this label selector (with -n)")
	f.StringVar(&k.HelmRelease, "helm-release", "", verb+" the master of this Bitnami-style Helm release (with -n)")
	f.StringVar(&k.Container, "container", "", "the container that runs redis (default: the one exposing port 6379)")
	f.StringVar(&k.Prefer, "prefer", "", "in a replication group, "+verb+" the master (default) or a replica")
	f.StringVar(&k.PasswordSecret, "password-secret", "", "read the Redis password from this Secret in the target's namespace: name/key")
	f.StringVar(&k.Access, "access", "auto", "how to reach Redis in the pod: auto, port-forward or pod-ip")
	f.BoolVar(&k.AllowSPDY, "allow-spdy", false, "let exec and port-forward fall back to SPDY when WebSocket upgrades fail")
	f.StringVar(&k.RedisUser, "redis-user", "", "Redis ACL user (default: the default user)")
	f.BoolVar(&k.TLS, "redis-tls", false, "Redis in the pod listens with TLS")
	f.StringVar(&k.TLSCASecret, "redis-tls-ca-secret", "", "with --redis-tls: the Secret key holding the CA certificate, name/key (default: system roots)")
	f.StringVar(&k.TLSServerName, "redis-tls-server-name", "", "with --redis-tls: a name in Redis's certificate, to verify it against")
	f.BoolVar(&k.TLSInsecure, "redis-tls-insecure-skip-verify", false, "with --redis-tls: do not verify Redis's certificate (tests only)")
	f.VisitAll(func(fl *pflag.Flag) { MarkGroup(fl, GroupKubernetes) })
	cmd.Flags().AddFlagSet(f)
}

// AddKubectlFlags registers only the kubeconfig flags on cmd, listed apart
// in --help, for a command that reaches Kubernetes for something other than
// a Redis (verify reading an identitySecret, drill recording Events).
func AddKubectlFlags(cmd *cobra.Command) *kube.Flags {
	kf := kube.NewFlags()
	kfs := pflag.NewFlagSet("kubectl", pflag.ContinueOnError)
	kf.AddFlags(kfs)
	kfs.VisitAll(func(f *pflag.Flag) { MarkGroup(f, GroupKubectl) })
	cmd.Flags().AddFlagSet(kfs)
	return kf
}

const identityFlagHelp = "age identity file (age-keygen output) or SSH private key that decrypts an encrypted backup; repeat it after a key rotation (each is tried); adds to the config's encryption.identityFile and identitySecret"

// AddIdentityFlag registers --identity-file, of the commands that decrypt.
func AddIdentityFlag(cmd *cobra.Command, files *[]string) {
	cmd.Flags().StringArrayVar(files, "identity-file", nil, identityFlagHelp)
}

// AddEncryptFlags registers the ad hoc encryption of rdbak now and import.
func AddEncryptFlags(cmd *cobra.Command, e *app.EncryptFlags) {
	f := cmd.Flags()
	f.StringArrayVar(&e.Recipients, "encrypt-recipient", nil, "encrypt the backup with age to this public key (age1... or ssh-ed25519/ssh-rsa); repeatable; replaces the config's encryption")
	f.StringVar(&e.RecipientsFile, "encrypt-recipients-file", "", "encrypt the backup with age to the public keys in this file, one a line")
}

// retentionFlags are the flags AddRetentionFlags registers.
var retentionFlags = []string{"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly", "keep-yearly", "keep-within", "min-keep", "time-zone"}

// AddRetentionFlags registers the rules of a retention policy as flags,
// into keep.
func AddRetentionFlags(cmd *cobra.Command, keep *config.Retention) {
	f := cmd.Flags()
	f.Var(count{&keep.KeepLast, noRule}, "keep-last", "keep the N newest backups")
	f.Var(count{&keep.KeepHourly, noRule}, "keep-hourly", "keep the newest backup of each of the N newest hours that have backups")
	f.Var(count{&keep.KeepDaily, noRule}, "keep-daily", "keep the newest backup of each of the N newest days that have backups")
	f.Var(count{&keep.KeepWeekly, noRule}, "keep-weekly", "keep the newest backup of each of the N newest ISO weeks that have backups")
	f.Var(count{&keep.KeepMonthly, noRule}, "keep-monthly", "keep the newest backup of each of the N newest months that have backups")
	f.Var(count{&keep.KeepYearly, noRule}, "keep-yearly", "keep the newest backup of each of the N newest years that have backups")
	f.Var(within{&keep.KeepWithin}, "keep-within", "keep every backup within this long of the newest one, e.g. 36h, 7d")
	f.Var(count{&keep.MinKeep, noRule}, "min-keep", "never keep fewer than N backups")
	f.StringVar(&keep.TimeZone, "time-zone", "", "IANA time zone of the calendar rules (default: local)")
}

// count is a flag of a whole number, refused when negative. Of a
// retention rule, a negative one would be no rule at all (prune would keep
// only the newest backup), as it is refused in the config file; of --last
// or --concurrency, it would be silently the default.
type count struct {
	n    *int
	hint string // after "must not be negative"
}

// noRule is the hint of a retention rule's count.
const noRule = " (leave the flag out to not use the rule)"

// CountVar registers a whole-number flag that refuses a negative value,
// where 0 is the default.
func CountVar(f *pflag.FlagSet, n *int, name, usage string) {
	f.Var(count{n: n}, name, usage)
}

func (c count) Type() string   { return "N" }
func (c count) String() string { return strconv.Itoa(*c.n) }

func (c count) Set(s string) error {
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return errors.New("not a whole number")
	case n < 0:
		return errors.New("must not be negative" + c.hint)
	}
	*c.n = n
	return nil
}

// within is the flag of a keep-within duration: positive, with days.
type within struct{ s *string }

func (w within) Type() string   { return "duration" }
func (w within) String() string { return *w.s }

func (w within) Set(s string) error {
	if d, err := config.ParseDuration(s); err != nil || d <= 0 {
		return errors.New("not a positive duration: write e.g. 36h, 7d or 1d12h")
	}
	*w.s = s
	return nil
}

// RetentionFlags is keep, the policy of AddRetentionFlags, when any of
// its flags was given on cmd; nil otherwise: no policy from the command
// line.
func RetentionFlags(cmd *cobra.Command, keep *config.Retention) *config.Retention {
	for _, n := range retentionFlags {
		if cmd.Flags().Changed(n) {
			return keep
		}
	}
	return nil
}
