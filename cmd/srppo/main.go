// Command srppo reproduces Self-Rewarding PPO on a synthetic world or on your own JSONL data.
//
// Usage:
//
//	srppo <command> [flags]
//
// Run "srppo" or "srppo -h" for the list of commands and "srppo <command> -h" for a command's flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
)

// command is one subcommand. Each command's file registers it in an init function.
type command struct {
	name, summary string
	// run parses the command's flags from args and runs it.
	run func(args []string) error
}

// commands holds the registered subcommands by name.
var commands = map[string]command{}

// register adds c to the commands; a name registered twice is a programming error.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("srppo: command " + c.name + " registered twice")
	}
	commands[c.name] = c
}

func main() { os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr)) }

// dispatch runs the command named by args[0] and returns the exit code: 0 on success or help
// (no command at all lists the commands, which is help, not a failure: `go run ./cmd/srppo`
// would print "exit status 2" otherwise), 1 when the command fails, 2 on a usage error.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return 0
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "srppo: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(args[1:])
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	default:
		fmt.Fprintf(stderr, "srppo %s: %v\n", c.name, err)
		return 1
	}
}

// usage lists the commands.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: srppo <command> [flags]\n\ncommands:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, name := range slices.Sorted(maps.Keys(commands)) {
		fmt.Fprintf(tw, "  %s\t%s\n", name, commands[name].summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRun 'srppo <command> -h' for a command's flags.")
}

// usageError is a flag error the flag set has already printed with the usage.
type usageError struct{ error }

// newFlagSet returns the flag set of a command: -h prints "usage: srppo name synopsis", the
// description and every flag with its documentation.
func newFlagSet(name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: srppo %s %s\n\n%s\n\nflags:\n", name, synopsis, strings.TrimSpace(description))
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs and rejects positional arguments. Parse errors come back as a
// usageError, since the flag set has already printed them.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %q\n", fs.Args())
		fs.Usage()
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	return nil
}
