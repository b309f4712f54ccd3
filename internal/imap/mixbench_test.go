package imap

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkMix runs `mailbench imap` (the binary named by $MAILBENCH; skipped
// without it) against this process's server, so that -cpuprofile and -memprofile
// show where the server spends: 50 clients over implicit TLS for 10 s on an INBOX of
// 1,000 messages, mailbench's default mix. It reports mailbench's operations per
// second; mailbench's own report is logged. One iteration is one whole run.
func BenchmarkMix(b *testing.B) {
	bench := os.Getenv("MAILBENCH")
	if bench == "" {
		b.Skip("set MAILBENCH to a built cmd/mailbench")
	}
	e := newSrvEnv(b, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	fillInbox(b, e, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b.ResetTimer()
	out, err := exec.CommandContext(ctx, bench, "imap", "--addr", e.implicit, "--tls", "implicit",
		"--user", "alice@example.com", "--password", srvPassword, "--clients", "50", "--duration", "10s").CombinedOutput()
	b.StopTimer()
	if err != nil {
		b.Fatalf("mailbench: %v\n%s", err, out)
	}
	b.Log("\n" + string(out))
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "overall" {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				b.ReportMetric(v, "ops/s")
			}
		}
	}
}
