// Package cli is the command-line machinery the rdbak commands share:
// the --help layout with its flag groups, argument checks that fail as
// usage errors (exit 2), the flags several commands register alike
// (-o/--output, the Kubernetes target and kubeconfig flags, encryption,
// retention), the typed confirmation of a destructive command, and shell
// completion of backup IDs and targets.
//
// It parses and prints only: what a command does is in internal/app, and
// every error in what the user typed is an app.UsageError naming the flag
// or argument at fault.
package cli
