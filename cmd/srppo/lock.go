package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gosrppo/gosrppo/internal/lockfile"
	"github.com/gosrppo/gosrppo/study"
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

// lockReproduceOutput is lockOutput for `srppo reproduce` without -shard: the exclusive lock
// refuses another such run, but -shard workers do not take it, so the leftovers of interrupted
// writes are only removed when no worker holds a live stage claim (a live worker's writes in
// progress look the same).
func lockReproduceOutput(dir string) (release func(), err error) {
	l, err := lockfile.Acquire(filepath.Join(dir, lockfile.DirLockName), lockfile.Options{Command: "srppo reproduce"})
	if err != nil {
		return nil, err
	}
	if live := study.LiveClaims(dir); len(live) > 0 {
		fmt.Fprintf(os.Stderr, "srppo reproduce: workers hold %s: leftovers of interrupted writes are not cleaned now\n", strings.Join(live, ", "))
	} else {
		removed, err := lockfile.CleanLeftovers(dir)
		if err != nil {
			l.Release()
			return nil, err
		}
		for _, p := range removed {
			fmt.Fprintf(os.Stderr, "srppo reproduce: removed %s, left by an interrupted run\n", p)
		}
	}
	return func() { l.Release() }, nil
}

// printNote prints a note about the inputs (an old checkpoint without a role) to stderr.
func printNote(s string) { fmt.Fprintln(os.Stderr, "note: "+s) }
