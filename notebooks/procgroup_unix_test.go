//go:build unix

package notebooks

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// killGroup makes cancelling cmd kill its whole process group (nbconvert and its children) and
// the kernel it started (killKernels).
func killGroup(cmd *exec.Cmd, tmp string) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		killKernels(tmp)
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 10 * time.Second
}

// killKernels kills what is left of a kernel started for one notebook: jupyter starts the GoNB
// kernel in a session of its own, so killing nbconvert's group leaves it (and the cell program it
// runs) behind. The kernel's command line names its connection file, which lies in tmp, the
// notebook's own TMPDIR; its process group holds the cell programs. Needs /proc (Linux).
func killKernels(tmp string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(cmdline, []byte(tmp+string(filepath.Separator))) || !bytes.Contains(cmdline, []byte("--kernel")) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		} else {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
