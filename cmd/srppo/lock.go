package main

import (
	"fmt"
	"os"

	"github.com/gosrppo/gosrppo/internal/lockfile"
)

// lockOutput takes the exclusive lock of a command's output directory (refusing at once, naming
// the holder, when another process writes there) and removes leftovers of writes a killed run
// interrupted. The caller defers the returned release.
func lockOutput(dir, command string) (release func(), err error) {
	l, removed, err := lockfile.LockDir(dir, "srppo "+command)
	if err != nil {
		return nil, err
	}
	for _, p := range removed {
		fmt.Fprintf(os.Stderr, "srppo %s: removed %s, left by an interrupted run\n", command, p)
	}
	return func() { l.Release() }, nil
}

// printNote prints a note about the inputs (an old checkpoint without a role) to stderr.
func printNote(s string) { fmt.Fprintln(os.Stderr, "note: "+s) }
