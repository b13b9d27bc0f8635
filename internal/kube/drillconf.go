package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConfFile is a redis.conf the target's container mounts from a ConfigMap.
type ConfFile struct {
	Source string // e.g. ConfigMap ns/name key redis.conf
	Text   string
}

// MountedConf reads the *.conf keys of the ConfigMaps container of p
// mounts (as configMap volumes or projected configMap sources), through
// the API server: the scratch server of a drill must load what they load
// (loadmodule, maxmemory), and the drill never asks the target's Redis. A
// missing optional ConfigMap is skipped.
func (c *Client) MountedConf(ctx context.Context, p *corev1.Pod, container string) ([]ConfFile, error) {
	mounted := map[string]bool{}
	for _, ct := range p.Spec.Containers {
		if ct.Name == container {
			for _, m := range ct.VolumeMounts {
				mounted[m.Name] = true
			}
		}
	}
	type ref struct {
		name     string
		items    []corev1.KeyToPath
		optional bool
	}
	var refs []ref
	for _, v := range p.Spec.Volumes {
		if !mounted[v.Name] {
			continue
		}
		if cm := v.ConfigMap; cm != nil {
			refs = append(refs, ref{cm.Name, cm.Items, cm.Optional != nil && *cm.Optional})
		}
		if pr := v.Projected; pr != nil {
			for _, s := range pr.Sources {
				if cm := s.ConfigMap; cm != nil {
					refs = append(refs, ref{cm.Name, cm.Items, cm.Optional != nil && *cm.Optional})
				}
			}
		}
	}
	var out []ConfFile
	for _, r := range refs {
		cm, err := c.API.CoreV1().ConfigMaps(p.Namespace).Get(ctx, r.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && r.optional {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read ConfigMap %s/%s that pod %s mounts, for the modules and maxmemory its redis.conf sets: %w",
				p.Namespace, r.name, p.Name, err)
		}
		keys := make([]string, 0, len(cm.Data))
		if len(r.items) > 0 {
			for _, it := range r.items {
				keys = append(keys, it.Key)
			}
		} else {
			for k := range cm.Data {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if text, ok := cm.Data[k]; ok && strings.HasSuffix(k, ".conf") {
				out = append(out, ConfFile{Source: fmt.Sprintf("ConfigMap %s/%s key %s", p.Namespace, r.name, k), Text: text})
			}
		}
	}
	return out, nil
}

// serverOption is an option of the target's server that its drill's
// scratch server must share, as redis-server arguments.
type serverOption struct {
	Name   string   // maxmemory or loadmodule
	Values []string // a module's path and arguments
	Source string
}

// serverOptions returns the maxmemory and loadmodule options of a
// container: those of the redis.conf files it mounts first, then those of
// its command and args (which override a config file, as for
// redis-server). A command run by a shell (sh -c '... redis-server ...')
// is split into words. A module loaded twice is kept once.
func serverOptions(words []string, cmdSource string, confs []ConfFile) []serverOption {
	var out []serverOption
	for _, f := range confs {
		for _, line := range strings.Split(f.Text, "\n") {
			ws := shellWords(line)
			if len(ws) >= 2 && (strings.EqualFold(ws[0], "maxmemory") || strings.EqualFold(ws[0], "loadmodule")) {
				out = append(out, serverOption{Name: strings.ToLower(ws[0]), Values: ws[1:], Source: "redis.conf in " + f.Source})
			}
		}
	}
	var flat []string
	for i, w := range words {
		if i > 0 && words[i-1] == "-c" { // a shell's script
			flat = append(flat, shellWords(w)...)
		} else {
			flat = append(flat, w)
		}
	}
	for i := 0; i < len(flat); i++ {
		switch w := flat[i]; {
		case w == "--maxmemory" && i+1 < len(flat):
			out = append(out, serverOption{Name: "maxmemory", Values: flat[i+1 : i+2], Source: cmdSource})
			i++
		case w == "--loadmodule" && i+1 < len(flat):
			o := serverOption{Name: "loadmodule", Values: flat[i+1 : i+2], Source: cmdSource}
			i++
			for i+1 < len(flat) && !strings.HasPrefix(flat[i+1], "--") {
				o.Values = append(o.Values, flat[i+1])
				i++
			}
			out = append(out, o)
		}
	}
	seen := map[string]bool{}
	kept := out[:0]
	for _, o := range out {
		if o.Name == "loadmodule" {
			if seen[o.Values[0]] {
				continue
			}
			seen[o.Values[0]] = true
		}
		kept = append(kept, o)
	}
	return kept
}

// shellWords splits a line as a shell does for plain words, single and
// double quotes and backslashes; it expands nothing. A # starting a word
// ends the line.
func shellWords(s string) []string {
	var (
		out   []string
		cur   strings.Builder
		in    bool // in a word
		quote rune
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == '\'':
			cur.WriteRune(r)
		case quote == '"' && r == '\\' && i+1 < len(rs) && strings.ContainsRune(`"\$`+"`", rs[i+1]):
			i++
			cur.WriteRune(rs[i])
		case quote == '"':
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			in = true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == ';':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case r == '#' && !in:
			return out
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// DrillModules describes the modules the scratch server of a drill of
// container of src loads (path and where it was read), for the reason of
// a drill that fails to load one.
func DrillModules(src *corev1.Pod, container string, confs []ConfFile) []string {
	var out []string
	for _, o := range containerOptions(src, container, confs) {
		if o.Name == "loadmodule" {
			out = append(out, fmt.Sprintf("%s (loadmodule in %s)", o.Values[0], o.Source))
		}
	}
	return out
}

func containerOptions(src *corev1.Pod, container string, confs []ConfFile) []serverOption {
	for _, c := range src.Spec.Containers {
		if c.Name == container {
			words := append(append([]string(nil), c.Command...), c.Args...)
			return serverOptions(words, fmt.Sprintf("the command of container %s of pod %s/%s", container, src.Namespace, src.Name), confs)
		}
	}
	return nil
}
