//go:build !linux

package netpark

import (
	"errors"
	"fmt"
	"runtime"
)

func newPoller() (poller, error) {
	return nil, fmt.Errorf("netpark: %w on %s", errors.ErrUnsupported, runtime.GOOS)
}
