// Command mailbench is Mailroom's load tool for comparing mail servers side by side. It
// is a benchmark tool, not part of the server, and it only ever talks to loopback
// addresses: any other address is refused before a connection is attempted.
//
// The first scenario is SMTP throughput:
//
//	mailbench smtp --addr 127.0.0.1:2525 --from a@sender.test --to bench@bench.test \
//	    --size 10KB --conns 8 --messages 2000 --duration 60s \
//	    --verify pop3://bench%40bench.test:secret@127.0.0.1:2110
//
// sends --messages messages (or as many as fit in --duration) over --conns reused
// connections and reports messages per second to the 250, the DATA→250 latency and,
// with --verify, the end-to-end rate: from the first connection until the last accepted
// message is visible in the recipient's mailbox.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: mailbench SCENARIO [flags]

Scenarios:
  smtp    send messages over SMTP and measure acceptance and end-to-end delivery
  imap           a mix of IMAP commands from many clients: ops/s and latency per command
  imap-idle      hold many IDLE connections open (for the server's memory per connection)
  imap-fetchall  time UID FETCH 1:* (FLAGS ENVELOPE) by a fresh client
  maildir        write the test messages into a Maildir (to fill both servers alike)
  activesync-sync      devices fully sync the Inbox, then poll it with no-change Syncs
  activesync-ping      devices hold Pings on the Inbox; time from one change to every answer
  activesync-fullsync  time a new device's full sync of the Inbox
  dns     answer every DNS query with NXDOMAIN (a local resolver for the servers under test)

Run "mailbench smtp -h" for the flags of a scenario.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit status: 0 for a clean run, 1 when the
// run had errors or the end-to-end check did not complete, 2 for bad arguments.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "smtp":
		return runSMTP(ctx, args[1:], stdout, stderr)
	case "imap", "imap-idle", "imap-fetchall", "maildir":
		return runIMAPScenario(ctx, args[0], args[1:], stdout, stderr)
	case "activesync-sync", "activesync-ping", "activesync-fullsync":
		return runActiveSyncScenario(ctx, args[0], args[1:], stdout, stderr)
	case "dns":
		return runDNS(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "mailbench: unknown scenario %q\n%s", args[0], usage)
		return 2
	}
}
