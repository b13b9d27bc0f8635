package cli

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Flag groups of --help: a command's own flags come first, then these, as
// kubectl lists its global flags apart.
const (
	groupAnnotation = "rdbak-group"
	GroupKubernetes = "Kubernetes target flags"
	GroupKubectl    = "Kubeconfig flags (as kubectl's)"
)

var flagGroups = []string{GroupKubernetes, GroupKubectl}

// MarkGroup lists f under group in --help.
func MarkGroup(f *pflag.Flag, group string) {
	if f.Annotations == nil {
		f.Annotations = map[string][]string{}
	}
	f.Annotations[groupAnnotation] = []string{group}
}

func groupOf(f *pflag.Flag) string {
	if g := f.Annotations[groupAnnotation]; len(g) > 0 {
		return g[0]
	}
	return ""
}

// flagSection is one titled group of flags in --help.
type flagSection struct{ Title, Usages string }

// flagSections splits fs into the command's own flags and the groups.
func flagSections(fs *pflag.FlagSet) []flagSection {
	var out []flagSection
	for _, title := range append([]string{"Flags"}, flagGroups...) {
		group := title
		if title == "Flags" {
			group = ""
		}
		sub := pflag.NewFlagSet(title, pflag.ContinueOnError)
		fs.VisitAll(func(f *pflag.Flag) {
			if groupOf(f) == group {
				sub.AddFlag(f)
			}
		})
		if sub.HasAvailableFlags() {
			out = append(out, flagSection{title, strings.TrimRight(sub.FlagUsages(), " \n")})
		}
	}
	return out
}

// usageTemplate is cobra's, with the local flags in sections.
const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Available Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}{{range flagSections .LocalFlags}}

{{.Title}}:
{{.Usages}}{{end}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

// SetUsage gives root and the commands below it the usage with flag
// sections.
func SetUsage(root *cobra.Command) {
	cobra.AddTemplateFunc("flagSections", flagSections)
	root.SetUsageTemplate(usageTemplate)
}
