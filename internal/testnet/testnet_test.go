package testnet

import (
	"net"
	"strconv"
	"testing"
)

func TestPortDistinctAndFree(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := Port(t, "127.0.0.1", "127.0.0.2")
		if p < low || p >= high {
			t.Fatalf("port %d outside [%d, %d)", p, low, high)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	// A port in use on one of the addresses is skipped.
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	if free(busy, []string{"127.0.0.1", "127.0.0.2"}) {
		t.Fatalf("port %d is in use on 127.0.0.2 but counted free", busy)
	}
	if a := Addr(t); a == "" {
		t.Fatal("empty address")
	} else if _, p, _ := net.SplitHostPort(a); p == strconv.Itoa(busy) {
		t.Fatalf("Addr gave the busy port %s", p)
	}
}
