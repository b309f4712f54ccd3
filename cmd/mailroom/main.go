// Command mailroom is the Mailroom server and its administration tool: one binary that
// initialises a data directory, serves every protocol, and manages domains, users,
// groups, shared mailboxes and mail from the command line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// env is what a command may touch: no command reads os.* directly, so tests can run
// several in one process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	stdinIsTerm    bool
}

// errUsage marks a mistake in how the command was called (exit status 2).
var errUsage = errors.New("usage")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"init", "create a data directory with its configuration, database and certificate", runInit},
		{"serve", "run the server until SIGTERM or SIGINT", runServe},
		{"domain", "add, list, show or remove mail domains; their DNS records and POP3 retention", runDomain},
		{"user", "add, list, show, update, disable or remove users", runUser},
		{"alias", "add or remove a user's or group's extra addresses", runAlias},
		{"group", "manage groups and distribution lists", runGroup},
		{"shared", "manage shared mailboxes and FullAccess/SendAs grants", runShared},
		{"import", "import an mbox file or a Maildir into a user's mailbox", runImport},
		{"export", "export a user's mailbox as a Maildir tree", runExport},
		{"queue", "list, show, retry or drop messages in the outbound queue", runQueue},
		{"device", "ActiveSync devices: list, show, allow, block, quarantine, wipe; access rules", runDevice},
		{"profile", "iOS/iPadOS e-mail profiles: settings, versions, assignments, rendering, status", runProfile},
		{"cert", "the built-in CA: SCEP challenges, issued certificates, revocation", runCert},
		{"db", "bring the database schema up to date (migrate)", runDB},
		{"migrate", "copy an SQLite installation into an empty PostgreSQL database", runMigrate},
		{"mfa", "second factors of sign-in: require them of users or groups, status, reset", runMFA},
		{"oauth", "OAuth clients of the authorization server: add, list, remove", runOAuth},
		{"audit", "the sign-in audit log: sign-ins, token grants and revocations, app passwords", runAudit},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, stdinIsTerm: isTerminal(os.Stdin)}
	code := run(ctx, e, os.Args[1:])
	stop()
	os.Exit(code)
}

// run dispatches to a command and turns its error into an exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		printHelp(e.stderr)
		return 2
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(e.stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(e.stderr, "mailroom %s: %s\n", c.name, strings.TrimPrefix(err.Error(), "usage: "))
			return 2
		default:
			fmt.Fprintf(e.stderr, "mailroom %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "mailroom: unknown command %q (see 'mailroom help')\n", args[0])
	return 2
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "usage: mailroom COMMAND [flags] [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every command takes --data DIR (default $MAILROOM_DATA, then ./data).")
	fmt.Fprintln(w, "Run 'mailroom COMMAND -h' for a command's flags.")
}

// flagSet makes a FlagSet with the flags every command shares.
type flagSet struct {
	*flag.FlagSet
	data *string
	json *bool
}

func newFlags(e *env, name, usage string) *flagSet {
	fs := flag.NewFlagSet("mailroom "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	def := e.getenv("MAILROOM_DATA")
	if def == "" {
		def = "data"
	}
	f := &flagSet{FlagSet: fs}
	f.data = fs.String("data", def, "data directory")
	f.json = fs.Bool("json", false, "print the result as JSON")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: mailroom %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return f
}

// parse accepts flags before, between and after positional arguments, and checks the
// number of positional arguments.
func (f *flagSet) parse(args []string, minArgs, maxArgs int) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = f.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < minArgs || (maxArgs >= 0 && len(pos) > maxArgs) {
		f.Usage()
		return nil, usageErr("expected %s, got %d argument(s)", argCount(minArgs, maxArgs), len(pos))
	}
	return pos, nil
}

func argCount(lo, hi int) string {
	switch {
	case lo == hi:
		return fmt.Sprintf("%d argument(s)", lo)
	case hi < 0:
		return fmt.Sprintf("at least %d argument(s)", lo)
	default:
		return fmt.Sprintf("%d to %d arguments", lo, hi)
	}
}

func logger(e *env, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}
