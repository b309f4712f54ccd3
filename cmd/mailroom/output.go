package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"mailroom/internal/instance"
)

// sub dispatches `mailroom NOUN VERB ...` to the verb's function.
type sub struct {
	name string
	run  func(ctx context.Context, e *env, args []string) error
}

func dispatch(ctx context.Context, e *env, noun string, subs []sub, args []string) error {
	var names []string
	for _, s := range subs {
		names = append(names, s.name)
	}
	if len(args) == 0 {
		return usageErr("%s needs one of: %s", noun, strings.Join(names, ", "))
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, e, args[1:])
		}
	}
	return usageErr("unknown %s command %q (one of: %s)", noun, args[0], strings.Join(names, ", "))
}

// emit prints v as JSON when asked, else as text.
func emit(e *env, asJSON bool, v any, text func(w io.Writer)) error {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}

// with opens the data directory named by --data, runs fn and closes it again.
func (f *flagSet) with(ctx context.Context, e *env, fn func(in *instance.Instance) error) error {
	in, err := instance.Open(ctx, *f.data, logger(e, levelWarn))
	if err != nil {
		return err
	}
	defer in.Close()
	return fn(in)
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// readPassword takes a password from standard input: the first line when fromStdin, else
// typed twice at a terminal without echo. A password never comes from a flag, where it
// would show in the process list and the shell history.
func readPassword(e *env, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from standard input: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	if !e.stdinIsTerm {
		return "", usageErr("no terminal to ask for a password: pass it on standard input with --password-stdin")
	}
	fd := int(os.Stdin.Fd())
	fmt.Fprint(e.stderr, "Password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(e.stderr, "Again: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if string(first) != string(second) {
		return "", errors.New("the two passwords differ")
	}
	return string(first), nil
}
