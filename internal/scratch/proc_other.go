//go:build !linux

package scratch

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
