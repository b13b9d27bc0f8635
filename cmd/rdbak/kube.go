package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/kube"
)

// addKubeFlags registers the flags of k on cmd; verb says what cmd does to the Redis
// they name ("back up", "restore into"). The kubeconfig flags are listed
// apart in --help, as kubectl's global flags are.
func addKubeFlags(cmd *cobra.Command, k *app.KubeFlags, verb string) {
	k.Flags = addKubectlFlags(cmd)
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
	f.VisitAll(func(fl *pflag.Flag) { markGroup(fl, groupKubernetes) })
	cmd.Flags().AddFlagSet(f)
}

// addKubectlFlags registers only the kubeconfig flags on cmd, for a
// command that reaches Kubernetes for something other than a Redis (verify
// reading an identitySecret).
func addKubectlFlags(cmd *cobra.Command) *kube.Flags {
	kf := kube.NewFlags()
	kfs := pflag.NewFlagSet("kubectl", pflag.ContinueOnError)
	kf.AddFlags(kfs)
	kfs.VisitAll(func(f *pflag.Flag) { markGroup(f, groupKubectl) })
	cmd.Flags().AddFlagSet(kfs)
	return kf
}
