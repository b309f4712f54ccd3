package sqlstore

import (
	"fmt"
	"sort"
	"strings"

	"mailroom/internal/store"
)

// System flags are kept as bits so that counting unseen messages and searching by flag
// use plain integer tests; keywords are kept as a space-separated list.
var flagBit = map[string]int64{
	store.FlagSeen:     1,
	store.FlagAnswered: 2,
	store.FlagFlagged:  4,
	store.FlagDeleted:  8,
	store.FlagDraft:    16,
}

var systemFlags = []string{store.FlagSeen, store.FlagAnswered, store.FlagFlagged, store.FlagDeleted, store.FlagDraft}

// splitFlags separates system flags (as bits) from keywords. A keyword must be an IMAP
// atom (RFC 9051 9: flag-keyword); system flags match case-insensitively.
func splitFlags(flags []string) (int64, string, error) {
	var bits int64
	var kws []string
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			ok := false
			for _, sf := range systemFlags {
				if strings.EqualFold(f, sf) {
					bits |= flagBit[sf]
					ok = true
				}
			}
			if !ok {
				return 0, "", fmt.Errorf("%w: %q is not a flag a message can carry", store.ErrInvalid, f)
			}
			continue
		}
		if err := validKeyword(f); err != nil {
			return 0, "", err
		}
		kws = addKeyword(kws, f)
	}
	return bits, strings.Join(kws, " "), nil
}

func validKeyword(k string) error {
	if k == "" || len(k) > 100 {
		return fmt.Errorf("%w: keyword %q must have 1 to 100 characters", store.ErrInvalid, k)
	}
	for _, c := range []byte(k) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return fmt.Errorf("%w: keyword %q has a character IMAP does not allow", store.ErrInvalid, k)
		}
	}
	return nil
}

func addKeyword(kws []string, k string) []string {
	for _, have := range kws {
		if strings.EqualFold(have, k) {
			return kws
		}
	}
	return append(kws, k)
}

func removeKeyword(kws []string, k string) []string {
	out := kws[:0]
	for _, have := range kws {
		if !strings.EqualFold(have, k) {
			out = append(out, have)
		}
	}
	return out
}

// joinFlags turns stored bits and keywords back into the flag list protocols see.
func joinFlags(bits int64, keywords string) []string {
	var out []string
	for _, sf := range systemFlags {
		if bits&flagBit[sf] != 0 {
			out = append(out, sf)
		}
	}
	if keywords != "" {
		out = append(out, strings.Fields(keywords)...)
	}
	return out
}

// applyFlags computes a message's new flags under op.
func applyFlags(bits int64, keywords string, op store.FlagOp, addBits int64, kws string) (int64, string) {
	have := strings.Fields(keywords)
	given := strings.Fields(kws)
	switch op {
	case store.FlagsReplace:
		return addBits, kws
	case store.FlagsAdd:
		for _, k := range given {
			have = addKeyword(have, k)
		}
		return bits | addBits, strings.Join(have, " ")
	default:
		for _, k := range given {
			have = removeKeyword(have, k)
		}
		return bits &^ addBits, strings.Join(have, " ")
	}
}

func sortUIDs(uids []store.UID) []store.UID {
	out := append([]store.UID(nil), uids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	// Drop duplicates: a UID asked for twice is changed once.
	w := 0
	for i, u := range out {
		if i == 0 || u != out[w-1] {
			out[w] = u
			w++
		}
	}
	return out[:w]
}
