package imap

import (
	"slices"
	"sort"

	"mailroom/internal/store"
)

// uidRuns is the message sequence number -> UID map of a view (RFC 9051 2.3.1.2): the
// view's UIDs in increasing order, sequence number n being the n-th. It keeps them as
// runs of consecutive UIDs, 8 bytes a run whatever its length. The store gives UIDs
// in increasing order and only expunges split a run, so a mailbox of thousands of
// messages is a handful of runs, where a slice would take 4 bytes a message for as
// long as the session has the mailbox selected, parked in IDLE included; at worst,
// every other message expunged, it takes as much as the slice. A sequence number or
// a UID is found by a binary search over the runs.
type uidRuns struct {
	runs []uidRun
}

// uidRun is the UIDs first, first+1, ... up to the one with sequence number end: end
// counts the messages of this run and of all runs before it, so the run holds the
// sequence numbers from the previous run's end + 1 to end.
type uidRun struct {
	first store.UID
	end   uint32
}

// len is the number of UIDs.
func (r *uidRuns) len() uint32 {
	if len(r.runs) == 0 {
		return 0
	}
	return r.runs[len(r.runs)-1].end
}

// start is the sequence number of run i's first UID.
func (r *uidRuns) start(i int) uint32 {
	if i == 0 {
		return 1
	}
	return r.runs[i-1].end + 1
}

// lastUID is the last UID of run i.
func (r *uidRuns) lastUID(i int) store.UID {
	return r.runs[i].first + store.UID(r.runs[i].end-r.start(i))
}

// last returns the greatest UID, 0 when there is none.
func (r *uidRuns) last() store.UID {
	if len(r.runs) == 0 {
		return 0
	}
	return r.lastUID(len(r.runs) - 1)
}

// uid returns the UID at sequence number seq (1-based), or 0 when out of range.
func (r *uidRuns) uid(seq uint32) store.UID {
	if seq == 0 || seq > r.len() {
		return 0
	}
	i := sort.Search(len(r.runs), func(i int) bool { return r.runs[i].end >= seq })
	return r.runs[i].first + store.UID(seq-r.start(i))
}

// find returns the index of the run that would hold uid (the last one starting at or
// before it), -1 when uid is below them all.
func (r *uidRuns) find(uid store.UID) int {
	return sort.Search(len(r.runs), func(i int) bool { return r.runs[i].first > uid }) - 1
}

// seq returns the sequence number of uid, or 0 when it is not in the set.
func (r *uidRuns) seq(uid store.UID) uint32 {
	i := r.find(uid)
	if i < 0 {
		return 0
	}
	off := uint32(uid - r.runs[i].first)
	if s := r.start(i) + off; s <= r.runs[i].end {
		return s
	}
	return 0
}

// add appends uid, which must be greater than every UID in the set.
func (r *uidRuns) add(uid store.UID) { r.addRun(uid, uid) }

// addRun appends the UIDs first to last, which must be greater than every UID in the
// set.
func (r *uidRuns) addRun(first, last store.UID) {
	if first > last {
		return
	}
	n := r.len() + uint32(last-first) + 1
	if len(r.runs) > 0 && first == r.last()+1 {
		r.runs[len(r.runs)-1].end = n
		return
	}
	r.runs = append(r.runs, uidRun{first: first, end: n})
}

// appendSeqs appends to dst the UIDs at sequence numbers lo to hi, which must be
// within 1 and len, in order.
func (r *uidRuns) appendSeqs(dst []store.UID, lo, hi uint32) []store.UID {
	if lo > hi {
		return dst
	}
	i := sort.Search(len(r.runs), func(i int) bool { return r.runs[i].end >= lo })
	for s := lo; i < len(r.runs) && s <= hi; i++ {
		to := min(hi, r.runs[i].end)
		first := r.runs[i].first + store.UID(s-r.start(i))
		for k := range to - s + 1 {
			dst = append(dst, first+store.UID(k))
		}
		s = to + 1
	}
	return dst
}

// appendUIDs appends to dst the UIDs of the set from lo to hi, in order.
func (r *uidRuns) appendUIDs(dst []store.UID, lo, hi store.UID) []store.UID {
	i := max(r.find(lo), 0)
	for ; i < len(r.runs) && r.runs[i].first <= hi; i++ {
		from := max(lo, r.runs[i].first)
		to := min(hi, r.lastUID(i))
		if from > to {
			continue // lo is past this run, or hi below lo
		}
		for k := range uint32(to-from) + 1 {
			dst = append(dst, from+store.UID(k))
		}
	}
	return dst
}

// remove takes the UIDs uids, sorted, out of the set, skipping those not in it, and
// calls gone for each one taken, in UID order, with the sequence number it had just
// before it went: each removal renumbers the UIDs after it at once, as EXPUNGE
// responses do (RFC 9051 7.5.1). It rebuilds the runs in one pass.
func (r *uidRuns) remove(uids []store.UID, gone func(seq uint32, uid store.UID)) {
	if len(uids) == 0 || len(r.runs) == 0 {
		return
	}
	var out []uidRun
	var kept uint32 // UIDs kept so far: the end of the last run written
	// Runs are separated by gaps, and the pieces kept of one run by the UIDs taken, so
	// no two pieces kept are adjacent: each is a run of its own.
	keep := func(first store.UID, n uint32) {
		if n > 0 {
			kept += n
			out = append(out, uidRun{first: first, end: kept})
		}
	}
	j := 0
	for i := range r.runs {
		first := r.runs[i].first
		last := r.lastUID(i)
		for j < len(uids) && uids[j] < first {
			j++
		}
		from := uint64(first) // the first UID of the run not yet kept or taken
		for ; j < len(uids) && uids[j] <= last; j++ {
			u := uids[j]
			if j > 0 && uids[j-1] == u {
				continue
			}
			keep(store.UID(from), uint32(uint64(u)-from))
			gone(kept+1, u)
			from = uint64(u) + 1
		}
		keep(store.UID(from), uint32(uint64(last)+1-from))
	}
	// A copy of the exact size: the old runs and a grown out's spare room would
	// otherwise stay with the view.
	r.runs = slices.Clone(out)
}
