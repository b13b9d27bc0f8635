package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrForbidden means rdbak lacks permissions the chosen path needs.
var ErrForbidden = errors.New("missing Kubernetes permissions")

// Permission is one API access rdbak needs.
type Permission struct {
	Group, Resource, Subresource, Verb string
	Namespace, Name                    string // Name narrows it to one object (Secrets)
}

func (p Permission) String() string {
	r := p.Resource
	if p.Subresource != "" {
		r += "/" + p.Subresource
	}
	if p.Name != "" {
		r += " " + p.Name
	}
	return fmt.Sprintf("%s %s in namespace %s", p.Verb, r, p.Namespace)
}

// Check asks the API server (SelfSubjectAccessReview) whether the current
// identity has every permission in need, and returns one error naming all
// that are missing with the Role rules that would grant them.
func (c *Client) Check(ctx context.Context, need []Permission) error {
	var missing []Permission
	for _, p := range need {
		r, err := c.API.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{
			Spec: authv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authv1.ResourceAttributes{
				Namespace: p.Namespace, Verb: p.Verb, Group: p.Group, Resource: p.Resource, Subresource: p.Subresource, Name: p.Name,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("check permission to %s: %w", p, err)
		}
		if !r.Status.Allowed {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var lines []string
	for _, p := range missing {
		lines = append(lines, "  - "+p.String())
	}
	return fmt.Errorf("%w:\n%s\nhint: a Role in each namespace with these rules grants them:\n%s", ErrForbidden, strings.Join(lines, "\n"), roleRules(missing))
}

// roleRules renders the RBAC rules that grant ps, merged by resource.
func roleRules(ps []Permission) string {
	type key struct{ group, resource, name string }
	verbs := map[key]map[string]bool{}
	for _, p := range ps {
		r := p.Resource
		if p.Subresource != "" {
			r += "/" + p.Subresource
		}
		k := key{p.Group, r, p.Name}
		if verbs[k] == nil {
			verbs[k] = map[string]bool{}
		}
		verbs[k][p.Verb] = true
	}
	keys := make([]key, 0, len(verbs))
	for k := range verbs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].resource+keys[i].name < keys[j].resource+keys[j].name })
	var b strings.Builder
	b.WriteString("    rules:\n")
	for _, k := range keys {
		var vs []string
		for v := range verbs[k] {
			vs = append(vs, `"`+v+`"`)
		}
		sort.Strings(vs)
		fmt.Fprintf(&b, "    - apiGroups: [%q]\n      resources: [%q]\n", k.group, k.resource)
		if k.name != "" {
			fmt.Fprintf(&b, "      resourceNames: [%q]\n", k.name)
		}
		fmt.Fprintf(&b, "      verbs: [%s]\n", strings.Join(vs, ", "))
	}
	return strings.TrimRight(b.String(), "\n")
}

// BackupPermissions lists what a backup of a Redis in ns needs: finding
// the pod (and its workload), exec for the file source, port-forward when
// outside the cluster, and the password Secret when one is named.
func BackupPermissions(ns string, s Spec, exec, portForward bool, secrets ...string) []Permission {
	ps := []Permission{
		{Resource: "pods", Verb: "get", Namespace: ns},
		{Resource: "pods", Verb: "list", Namespace: ns},
	}
	switch {
	case s.StatefulSet != "":
		ps = append(ps, Permission{Group: "apps", Resource: "statefulsets", Verb: "get", Namespace: ns, Name: s.StatefulSet})
	case s.Deployment != "":
		ps = append(ps, Permission{Group: "apps", Resource: "deployments", Verb: "get", Namespace: ns, Name: s.Deployment})
	}
	if exec {
		// WebSocket exec is a GET; SPDY exec a POST (create).
		ps = append(ps,
			Permission{Resource: "pods", Subresource: "exec", Verb: "create", Namespace: ns},
			Permission{Resource: "pods", Subresource: "exec", Verb: "get", Namespace: ns})
	}
	if portForward {
		ps = append(ps,
			Permission{Resource: "pods", Subresource: "portforward", Verb: "create", Namespace: ns},
			Permission{Resource: "pods", Subresource: "portforward", Verb: "get", Namespace: ns})
	}
	for _, secret := range secrets {
		if secret != "" {
			ps = append(ps, Permission{Resource: "secrets", Verb: "get", Namespace: ns, Name: secret})
		}
	}
	return ps
}

// RestorePermissions lists what a restore with strategy (restart, offline
// or in-place) of workload w needs beyond reaching Redis: restart scales
// the workload too when Redis refuses to shut down.
func RestorePermissions(w *Workload, strategy string) []Permission {
	ns := w.Namespace
	ps := []Permission{
		{Resource: "pods", Subresource: "exec", Verb: "create", Namespace: ns},
		{Resource: "pods", Subresource: "exec", Verb: "get", Namespace: ns},
	}
	if strategy != "offline" && strategy != "restart" {
		return ps
	}
	res := strings.ToLower(w.Kind) + "s"
	return append(ps,
		Permission{Group: "apps", Resource: res, Verb: "get", Namespace: ns, Name: w.Name},
		Permission{Group: "apps", Resource: res, Verb: "patch", Namespace: ns, Name: w.Name},
		Permission{Group: "apps", Resource: res, Subresource: "scale", Verb: "update", Namespace: ns, Name: w.Name},
		Permission{Resource: "pods", Verb: "create", Namespace: ns},
		Permission{Resource: "pods", Verb: "delete", Namespace: ns},
	)
}
