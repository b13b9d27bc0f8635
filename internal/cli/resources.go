package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// AddRestorePodFlags registers --restore-requests and --restore-limits,
// the resources of a restore's staging pod. Unset, the pod has none, and a
// LimitRange's defaults apply; a namespace whose ResourceQuota covers
// limits (or requests) without a LimitRange refuses such a pod.
func AddRestorePodFlags(cmd *cobra.Command, r *corev1.ResourceRequirements) {
	f := cmd.Flags()
	f.Var(resourceList{&r.Requests}, "restore-requests", "resource requests of the restore's staging pod, e.g. cpu=100m,memory=64Mi (default: none, or the namespace's LimitRange defaults)")
	f.Var(resourceList{&r.Limits}, "restore-limits", "resource limits of the restore's staging pod, e.g. cpu=1,memory=256Mi; a namespace whose ResourceQuota covers limits needs them")
}

// resourceList is a flag of Kubernetes quantities: cpu=100m,memory=64Mi.
type resourceList struct{ l *corev1.ResourceList }

func (r resourceList) Type() string { return "resources" }

func (r resourceList) String() string {
	if r.l == nil {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(*r.l)) {
		q := (*r.l)[k]
		parts = append(parts, string(k)+"="+q.String())
	}
	return strings.Join(parts, ",")
}

func (r resourceList) Set(s string) error {
	l := corev1.ResourceList{}
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		name := corev1.ResourceName(k)
		switch name {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		default:
			return fmt.Errorf("unknown resource %q: use cpu, memory or ephemeral-storage, e.g. cpu=100m,memory=64Mi", k)
		}
		if !ok || v == "" {
			return fmt.Errorf("%s has no quantity: write %s=QUANTITY, e.g. cpu=100m,memory=64Mi", k, k)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() < 0 {
			return fmt.Errorf("invalid quantity %q for %s: write a Kubernetes quantity, e.g. cpu=100m,memory=64Mi", v, k)
		}
		l[name] = q
	}
	*r.l = l
	return nil
}
