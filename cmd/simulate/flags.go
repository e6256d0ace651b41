package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tideline-sim/tideline/internal/safetext"
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
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		name, _, inline := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "h" || name == "help" {
			continue
		}
		if f := fs.Lookup(name); f != nil {
			if !inline && !isBoolFlag(f) {
				i++ // its value, even one that starts with '-' (-seed -1): the flag says what is wrong with it
			}
			continue
		}
		var known []string
		fs.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
		msg := fmt.Sprintf("%s: unknown flag -%s", fs.Name(), safetext.Show(name))
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

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// Bounds of the counts a subcommand takes: a seed list is held in memory,
// and a million seeds is already days of exploring on one machine (shard
// across machines for more).
const (
	maxSeeds   = 1_000_000
	maxWorkers = 1024
)

// checkCount reports, and refuses, a count flag outside [1, most].
func checkCount(stderr io.Writer, cmd, flagName string, n, most int) bool {
	if n < 1 || n > most {
		fmt.Fprintf(stderr, "%s: -%s %d: want 1 to %d\n", cmd, flagName, n, most)
		return false
	}
	return true
}
