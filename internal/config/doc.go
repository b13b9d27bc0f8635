// Package config reads rdbak.yaml, the file an operator writes to tell rdbak
// which Redis servers to back up and where to put the backups.
//
// The file is the user-facing contract of rdbak, so it is read strictly:
//
//   - Every key must be a known field. A misspelt key is an error naming the
//     file, the line and the place in the document ("rdbak.yaml:7: unknown
//     field "passwrod" in targets[0]"), never a silently ignored setting.
//   - ${NAME} and ${NAME:-default} are expanded inside scalar values (not in
//     keys or comments), after YAML parsing, so an environment value can never
//     change the structure of the document. $${ writes a literal ${. An unset
//     variable without a default is an error.
//   - Defaults are applied after decoding, then Validate reports every
//     remaining problem at once, each naming its field and line with a hint.
//   - Error messages never contain a value that came from the environment, a
//     password, or a URL (URLs may carry credentials).
//   - Passwords are not read at load time: Target.Password reads the file or
//     variable when a connection needs it, so rotated secrets are picked up.
//
// YAML tags live only here; domain packages receive typed options built from a
// File by the command layer.
package config
