package main

// Several servers under test: --addr may name more than one (repeated or separated by
// commas), as when several nodes share one database, and the connections of a run are
// spread over them in turn.

import (
	"errors"
	"fmt"
)

// maxTargets bounds the addresses one run spreads its connections over.
const maxTargets = 16

// loopbackAddrs checks each address of an --addr list with loopbackAddr.
func loopbackAddrs(list []string) ([]string, error) {
	if len(list) == 0 {
		return nil, errors.New("--addr is required")
	}
	if len(list) > maxTargets {
		return nil, fmt.Errorf("--addr: %d addresses, at most %d", len(list), maxTargets)
	}
	addrs := make([]string, len(list))
	for i, a := range list {
		var err error
		if addrs[i], err = loopbackAddr(a); err != nil {
			return nil, fmt.Errorf("--addr: %w", err)
		}
	}
	return addrs, nil
}

// target is the address connection number i uses: the list in turn.
func target(addrs []string, i int) string { return addrs[i%len(addrs)] }
