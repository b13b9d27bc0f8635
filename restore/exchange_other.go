//go:build !linux

package restore

import "errors"

// exchange is Linux's renameat2 RENAME_EXCHANGE; elsewhere callers fall
// back to two renames.
func exchange(a, b string) error { return errors.ErrUnsupported }
