package imap

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"
	"time"
)

// BenchmarkIdleMemory measures the server's memory per connection idling in IDLE:
// `mailbench imap-idle` (the binary named by $MAILBENCH; skipped without it) holds
// $IDLE_CONNS connections (default 2,000) over implicit TLS with INBOX (2,000
// messages, as in bench/imap-vs-dovecot.sh) selected, in a process of its own, so
// that what this process holds is the server's. It reports heap and stack in use
// per connection, after two GCs, and the share of the sessions parked without a
// goroutine (park.go), and writes a heap profile to $IDLE_HEAP_PROFILE when set. One
// iteration is one whole run, whatever b.N is.
func BenchmarkIdleMemory(b *testing.B) {
	bench := os.Getenv("MAILBENCH")
	if bench == "" {
		b.Skip("set MAILBENCH to a built cmd/mailbench")
	}
	conns := 2000
	if n, err := strconv.Atoi(os.Getenv("IDLE_CONNS")); err == nil && n > 0 {
		conns = n
	}
	e := newSrvEnv(b, func(c *Config) { c.Logger = slog.New(slog.DiscardHandler) })
	for i := 1; i <= 2000; i++ {
		e.deliver(b, e.alice.ID, 0, srvMsg(i, "message "+strconv.Itoa(i)))
	}
	inUse := func() (heap, stack uint64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, ms.StackInuse
	}
	heap0, stack0 := inUse()
	ready := filepath.Join(b.TempDir(), "ready")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bench, "imap-idle", "--addr", e.implicit, "--tls", "implicit",
		"--user", "alice@example.com", "--password", srvPassword, "--conns", strconv.Itoa(conns),
		"--hold", "10s", "--sample", "10", "--ready-file", ready)
	out, err := os.CreateTemp(b.TempDir(), "mailbench")
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if ctx.Err() != nil {
			b.Fatal("mailbench never got every connection idling")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	heap1, stack1 := inUse()
	parked := e.srv.parking.parkedCount()
	if p := os.Getenv("IDLE_HEAP_PROFILE"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	if err := cmd.Wait(); err != nil {
		log, _ := os.ReadFile(out.Name())
		b.Fatalf("mailbench: %v\n%s", err, log)
	}
	b.ReportMetric(float64(heap1+stack1-heap0-stack0)/float64(conns), "B/conn")
	b.ReportMetric(float64(heap1-heap0)/float64(conns), "heapB/conn")
	b.ReportMetric(float64(stack1-stack0)/float64(conns), "stackB/conn")
	b.ReportMetric(float64(parked)/float64(conns), "parked/conn")
	b.ReportMetric(0, "ns/op")
}
