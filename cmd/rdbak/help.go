package main

import (
	"embed"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Flag groups of --help: a command's own flags come first, then these, as
// kubectl lists its global flags apart.
const (
	groupAnnotation = "rdbak-group"
	groupKubernetes = "Kubernetes target flags"
	groupKubectl    = "Kubeconfig flags (as kubectl's)"
)

var flagGroups = []string{groupKubernetes, groupKubectl}

func markGroup(f *pflag.Flag, group string) {
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

func setUsage(root *cobra.Command) {
	cobra.AddTemplateFunc("flagSections", flagSections)
	root.SetUsageTemplate(usageTemplate)
}

// helpFiles holds the long help of every command, help/NAME.txt (NAME: the
// command's path below rdbak joined by _, rdbak for the root), kept apart
// from the code so that it is read and edited as the text it is.
//
//go:embed help/*.txt
var helpFiles embed.FS

// longHelp is the long help of the command NAME; TestHelpFiles checks that
// every command asks for a file that exists, and every file is used.
func longHelp(name string) string {
	b, err := helpFiles.ReadFile("help/" + name + ".txt")
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}
