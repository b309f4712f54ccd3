// Package testnet gives tests loopback ports for servers that must be told their
// address before they listen: a server started as a child process, or a second server
// that later takes the first one's port on another loopback address.
//
// Ports come from below Linux's ephemeral range (32768 and up). A port the kernel
// hands out for ":0" and that the test then releases can be handed out again at once,
// to the next probe or to any outgoing connection of a test running in parallel; one
// below the range is never taken that way. Each port is handed out once per test
// process. This package is for tests only and must never be imported by server code.
package testnet

import (
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

const (
	low  = 10000
	high = 32000
)

// allocator is the one per process: uniqueness across a test binary's tests is what it
// is for.
var allocator = struct {
	sync.Mutex
	next int
}{next: low + (os.Getpid()*7919+int(time.Now().UnixNano()%100000))%(high-low)}

// Port returns a port that nothing listens on right now on any of ips (127.0.0.1 when
// none is given) and that no other caller in this process was given.
func Port(t testing.TB, ips ...string) int {
	t.Helper()
	if len(ips) == 0 {
		ips = []string{"127.0.0.1"}
	}
	allocator.Lock()
	defer allocator.Unlock()
	for range high - low {
		port := allocator.next
		allocator.next++
		if allocator.next >= high {
			allocator.next = low
		}
		if free(port, ips) {
			return port
		}
	}
	t.Fatalf("testnet: no port between %d and %d is free on %v", low, high, ips)
	return 0
}

// Addr returns "127.0.0.1:PORT" for a Port.
func Addr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(Port(t)))
}

func free(port int, ips []string) bool {
	for _, ip := range ips {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}
