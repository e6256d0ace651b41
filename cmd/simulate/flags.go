package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tideline-sim/tideline/internal/suggest"
)

// parseArgs parses a subcommand's flags wherever they stand among its
// positional arguments (Go users write `simulate check -seeds 3 a.yaml` and
// `simulate -compare a b -out out/` alike), and returns the positional
// ones. It returns done with the exit code when there is nothing left to
// do: -h (exit 0, after the description), a flag that does not exist (with
// the nearest that does), or more positional arguments than maxArgs
// (-1: any number).
func parseArgs(fs *flag.FlagSet, args []string, maxArgs int, stderr io.Writer) (positional []string, code int, done bool) {
	for _, a := range args {
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "h" || name == "help" || fs.Lookup(name) != nil {
			continue
		}
		var known []string
		fs.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
		msg := fmt.Sprintf("%s: unknown flag -%s", fs.Name(), name)
		if best := suggest.Nearest(name, known); best != "" {
			msg += fmt.Sprintf(" (did you mean -%s?)", best)
		}
		fmt.Fprintf(stderr, "%s; see %s -h\n", msg, fs.Name())
		return nil, exitUsage, true
	}
	positional, err := parseInterleaved(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil, exitOK, true
	case err != nil:
		return nil, exitUsage, true
	case maxArgs >= 0 && len(positional) > maxArgs:
		fmt.Fprintf(stderr, "%s: unexpected argument %q; see %s -h\n", fs.Name(), positional[maxArgs], fs.Name())
		return nil, exitUsage, true
	}
	return positional, exitOK, false
}

// describe sets a subcommand's -h text: its usage line, what it does, and
// its flags.
func describe(fs *flag.FlagSet, stderr io.Writer, usage, what string) {
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\n%s\n", usage, what)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprint(stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
}

// parseInterleaved parses flags wherever they stand among the positional
// arguments, which the flag package alone stops at the first positional one.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
