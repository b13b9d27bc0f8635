package drill

import (
	"errors"
	"fmt"
	"strings"
)

// ErrModuleMissing is wrapped, with ErrFailed, by the error of a drill
// whose scratch server could not load a module: one the target loads
// (loadmodule in its arguments or redis.conf) that the scratch server
// does not have, or one that defines a type of the backup's values.
var ErrModuleMissing = errors.New("module missing")

// ModuleFailure names the module at fault when err, a scratch server's
// failure to start or to load the backup (with the end of its log), says
// a module is: loads are the modules the scratch server was told to load
// (path and where the target loads it from), types the module types of
// the backup's values. Other errors are returned unchanged.
func ModuleFailure(err error, loads, types []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	detail := strings.TrimPrefix(msg, ErrFailed.Error()+": ")
	switch {
	case strings.Contains(msg, "Module ") && strings.Contains(msg, "failed to load"),
		strings.Contains(msg, "Can't load module"):
		return &moduleError{err: err, msg: fmt.Sprintf("%s: %s: the scratch server could not load a module the target loads, %s: the scratch server runs the target's image without its volumes, so a restore into a new pod of that image would fail the same way; ship the module in the image: %s",
			ErrFailed, ErrModuleMissing, orNone(loads), detail)}
	case strings.Contains(msg, "module data I can't load"), strings.Contains(msg, "no matching module"):
		return &moduleError{err: err, msg: fmt.Sprintf("%s: %s: the backup holds values of module types %s and the scratch server loaded no module defining them (it loaded %s): load the module with loadmodule in the target's arguments or its mounted redis.conf: %s",
			ErrFailed, ErrModuleMissing, orNone(types), orNone(loads), detail)}
	}
	return err
}

// moduleError is ModuleFailure's error: ErrFailed, ErrModuleMissing and
// the server's own error, said once.
type moduleError struct {
	err error
	msg string
}

func (e *moduleError) Error() string   { return e.msg }
func (e *moduleError) Unwrap() []error { return []error{ErrFailed, ErrModuleMissing, e.err} }

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
