package smtp

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/smtp"
	"sync"
	"testing"
)

// BenchmarkDeliver sends messages of 10 KB and 100 KB to the MX port over 8 concurrent
// connections of net/smtp's client, each acknowledged with 250 only once stored, as
// in production: the in-process view of bench/smtp-vs-postfix.sh, for -cpuprofile and
// -memprofile. No SPF/DKIM/DMARC check runs (no Checker).
func BenchmarkDeliver(b *testing.B) {
	for _, size := range []int{10 << 10, 100 << 10} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			e := newEnv(b, withConfig(func(c *Config) {
				c.MaxMessageSize = 1 << 20
				c.Logger = slog.New(slog.DiscardHandler)
			}))
			body := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog, Again and AGAIN.\r\n"), size/64)
			const conns = 8
			var next sync.Mutex
			n := 0
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for range conns {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := smtp.Dial(e.mx)
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					for {
						next.Lock()
						i := n
						n++
						next.Unlock()
						if i >= b.N {
							return
						}
						msg := fmt.Appendf(nil, "From: x@remote.test\r\nTo: bob@example.test\r\nSubject: message %d\r\nMessage-ID: <%d@remote.test>\r\n\r\n%s", i, i, body)
						if err := send(c, msg); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
		})
	}
}

// send runs one mail transaction on c.
func send(c *smtp.Client, msg []byte) error {
	if err := c.Mail("x@remote.test"); err != nil {
		return err
	}
	if err := c.Rcpt("bob@example.test"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	return w.Close()
}
