package scratch

import "syscall"

// sysProcAttr has the kernel kill the server when this process dies, so a
// killed rdbak leaves no scratch server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
