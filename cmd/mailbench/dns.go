package main

// The dns scenario is not a load: it is the benchmark's stand-in for a local caching
// resolver. A mail server that checks SPF, DKIM and DMARC asks DNS about every
// message; on a machine with no resolver for the test domains, a closed port makes each
// query wait for an ICMP "port unreachable" instead of an answer, and one such message
// lost makes its query, and so its SMTP transaction, wait for the resolver's timeout.
// This answers every query at once with NXDOMAIN, as a resolver answers for names that
// do not exist.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/miekg/dns"
)

// runDNS serves NXDOMAIN on --addr, over UDP and TCP, until ctx ends or --duration
// passes.
func runDNS(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailbench dns", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "`host:port` to answer on; loopback only (127.0.0.0/8, ::1, localhost)")
	duration := fs.Duration("duration", 2*time.Hour, "stop after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	a, err := loopbackAddr(*addr)
	if err != nil || fs.NArg() > 0 || *duration <= 0 {
		fmt.Fprintf(stderr, "mailbench dns: want --addr host:port on loopback and a positive --duration (%v)\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	pc, err := net.ListenPacket("udp", a)
	if err != nil {
		fmt.Fprintf(stderr, "mailbench dns: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", a)
	if err != nil {
		pc.Close()
		fmt.Fprintf(stderr, "mailbench dns: %v\n", err)
		return 1
	}
	nxdomain := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeNameError)
		w.WriteMsg(m)
	})
	servers := []*dns.Server{{PacketConn: pc, Handler: nxdomain}, {Listener: ln, Handler: nxdomain}}
	errs := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errs <- s.ActivateAndServe() }()
	}
	fmt.Fprintf(stdout, "mailbench dns: answering NXDOMAIN on %s (UDP and TCP)\n", a)
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	for _, s := range servers {
		s.Shutdown()
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintf(stderr, "mailbench dns: %v\n", err)
		return 1
	}
	return 0
}
