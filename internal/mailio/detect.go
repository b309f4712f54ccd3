package mailio

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Detect tells whether path is an mbox file or a Maildir. A Maildir is a
// directory with cur/ and new/; an mbox is a file that is empty or starts
// with "From " (RFC 4155 section 2). Anything else is [ErrUnknownFormat],
// with the reason.
func Detect(path string) (Format, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("mailio: detecting format: %w", err)
	}
	if fi.IsDir() {
		if isMaildir(path) {
			return Maildir, nil
		}
		return 0, fmt.Errorf("%w: %s is a directory without cur/ and new/, so not a Maildir", ErrUnknownFormat, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("mailio: detecting format: %w", err)
	}
	defer f.Close()
	head := make([]byte, len(fromPrefix))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("mailio: detecting format: %w", err)
	}
	if n == 0 || hasFromPrefix(head[:n]) {
		return Mbox, nil
	}
	return 0, fmt.Errorf("%w: %s does not start with \"From \", so not an mbox file", ErrUnknownFormat, path)
}
