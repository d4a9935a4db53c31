//go:build !unix

package notebooks

import (
	"os/exec"
	"time"
)

// killGroup: without process groups, cancelling kills nbconvert only.
func killGroup(cmd *exec.Cmd, tmp string) { cmd.WaitDelay = 10 * time.Second }

// killKernels: no way to find the kernel here.
func killKernels(tmp string) {}
