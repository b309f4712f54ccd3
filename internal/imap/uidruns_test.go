package imap

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"mailroom/internal/store"
)

// runsOf builds a uidRuns of sorted UIDs.
func runsOf(uids ...store.UID) *uidRuns {
	r := &uidRuns{}
	for _, u := range uids {
		r.add(u)
	}
	return r
}

// all is every UID of r, in order.
func (r *uidRuns) all() []store.UID { return r.appendSeqs(nil, 1, r.len()) }

// checkRuns compares r with ref, the same UIDs as a plain sorted slice, through every
// lookup, and checks the runs are as few as they can be.
func checkRuns(t *testing.T, r *uidRuns, ref []store.UID) {
	t.Helper()
	if got := r.all(); !slices.Equal(got, ref) {
		t.Fatalf("UIDs = %v, want %v", got, ref)
	}
	n := uint32(len(ref))
	last := store.UID(0)
	if n > 0 {
		last = ref[n-1]
	}
	if r.len() != n || r.last() != last {
		t.Fatalf("len, last = %d, %d, want %d, %d", r.len(), r.last(), n, last)
	}
	for i, run := range r.runs {
		if i > 0 && (run.end <= r.runs[i-1].end || run.first <= r.lastUID(i-1)+1) {
			t.Fatalf("runs %d and %d of %+v overlap, touch or are empty", i-1, i, r.runs)
		}
	}
	if len(r.runs) > 0 && r.runs[0].end == 0 {
		t.Fatalf("empty first run in %+v", r.runs)
	}
	for s := uint32(0); s <= n+1; s++ {
		want := store.UID(0)
		if s >= 1 && s <= n {
			want = ref[s-1]
		}
		if got := r.uid(s); got != want {
			t.Fatalf("uid(%d) = %d, want %d", s, got, want)
		}
	}
	for u := store.UID(0); u <= last+2; u++ {
		want := uint32(0)
		if i, ok := slices.BinarySearch(ref, u); ok {
			want = uint32(i + 1)
		}
		if got := r.seq(u); got != want {
			t.Fatalf("seq(%d) = %d, want %d", u, got, want)
		}
	}
}

// removeRef is remove on the reference slice: each UID's sequence number just before
// it goes, and the slice without them.
func removeRef(ref, uids []store.UID) ([]uint32, []store.UID) {
	var seqs []uint32
	for _, u := range uids {
		if i, ok := slices.BinarySearch(ref, u); ok {
			seqs = append(seqs, uint32(i+1))
			ref = slices.Delete(ref, i, i+1)
		}
	}
	return seqs, ref
}

func TestUIDRunsRemove(t *testing.T) {
	const top = math.MaxUint32
	tests := []struct {
		name     string
		uids     []store.UID // the set, sorted
		remove   []store.UID
		wantSeqs []uint32
		wantRuns int
	}{
		{"nothing", []store.UID{1, 2, 3}, nil, nil, 1},
		{"from empty", nil, []store.UID{1}, nil, 0},
		{"not there", []store.UID{2, 3, 5}, []store.UID{1, 4, 6}, nil, 2},
		{"first of a run", []store.UID{1, 2, 3, 7, 8}, []store.UID{7}, []uint32{4}, 2},
		{"last of a run", []store.UID{1, 2, 3, 7, 8}, []store.UID{3}, []uint32{3}, 2},
		{"middle splits", []store.UID{1, 2, 3, 4, 5}, []store.UID{3}, []uint32{3}, 2},
		{"whole run", []store.UID{1, 2, 5, 6, 9}, []store.UID{5, 6}, []uint32{3, 3}, 2},
		{"everything", []store.UID{1, 2, 3, 10}, []store.UID{1, 2, 3, 10}, []uint32{1, 1, 1, 1}, 0},
		{"every other", []store.UID{1, 2, 3, 4, 5, 6}, []store.UID{2, 4, 6}, []uint32{2, 3, 4}, 3},
		{"duplicates", []store.UID{1, 2, 3}, []store.UID{2, 2, 3, 3}, []uint32{2, 2}, 1},
		{"across runs", []store.UID{1, 2, 3, 10, 11, 12}, []store.UID{3, 10}, []uint32{3, 3}, 2},
		{"top UID", []store.UID{top - 2, top - 1, top}, []store.UID{top}, []uint32{3}, 1},
		{"top UID middle", []store.UID{top - 2, top - 1, top}, []store.UID{top - 1}, []uint32{2}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runsOf(tt.uids...)
			var seqs []uint32
			var gone []store.UID
			r.remove(tt.remove, func(s uint32, u store.UID) {
				seqs = append(seqs, s)
				gone = append(gone, u)
			})
			refSeqs, ref := removeRef(slices.Clone(tt.uids), tt.remove)
			if !slices.Equal(seqs, tt.wantSeqs) || !slices.Equal(seqs, refSeqs) {
				t.Fatalf("sequence numbers = %v, want %v (reference %v)", seqs, tt.wantSeqs, refSeqs)
			}
			if len(gone) != len(seqs) || !slices.IsSorted(gone) {
				t.Fatalf("UIDs gone = %v", gone)
			}
			if len(r.runs) != tt.wantRuns {
				t.Fatalf("runs = %+v, want %d of them", r.runs, tt.wantRuns)
			}
			if len(tt.uids) > 0 && tt.uids[len(tt.uids)-1] == top {
				// Only the edges: walking every UID up to the top would take long.
				if got := r.appendUIDs(nil, 0, top); !slices.Equal(got, ref) {
					t.Fatalf("UIDs = %v, want %v", got, ref)
				}
				return
			}
			checkRuns(t, r, ref)
		})
	}
}

func TestUIDRunsRanges(t *testing.T) {
	r := runsOf(3, 4, 5, 9, 10, 20)
	tests := []struct {
		name   string
		seqs   bool // lo, hi are sequence numbers, else UIDs
		lo, hi uint32
		want   []store.UID
	}{
		{"one seq", true, 2, 2, []store.UID{4}},
		{"seqs across runs", true, 2, 5, []store.UID{4, 5, 9, 10}},
		{"all seqs", true, 1, 6, []store.UID{3, 4, 5, 9, 10, 20}},
		{"empty seqs", true, 3, 2, nil},
		{"UIDs below", false, 0, 2, nil},
		{"UIDs in a gap", false, 6, 8, nil},
		{"UIDs across a gap", false, 5, 9, []store.UID{5, 9}},
		{"UIDs to the top", false, 10, math.MaxUint32, []store.UID{10, 20}},
		{"all UIDs", false, 0, math.MaxUint32, []store.UID{3, 4, 5, 9, 10, 20}},
		{"UIDs above", false, 21, 30, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []store.UID
			if tt.seqs {
				got = r.appendSeqs(nil, tt.lo, tt.hi)
			} else {
				got = r.appendUIDs(nil, store.UID(tt.lo), store.UID(tt.hi))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
	r = &uidRuns{}
	for u := range store.UID(2000) {
		r.add(u + 1)
	}
	if len(r.runs) != 1 {
		t.Fatalf("2,000 consecutive UIDs make %d runs", len(r.runs))
	}
}

// applyRunOps applies to a uidRuns and to a plain slice the operations ops encodes,
// a few bytes each, and checks after each that they agree: appends of new UIDs, with
// gaps or not; removals of UIDs the set has or not, as a view's expunges; lookups of
// sequence-number and UID ranges.
func applyRunOps(t *testing.T, ops []byte) {
	r := &uidRuns{}
	var ref []store.UID
	next := func() byte {
		if len(ops) == 0 {
			return 0
		}
		b := ops[0]
		ops = ops[1:]
		return b
	}
	for len(ops) > 0 {
		op, a, b := next(), next(), next()
		n := uint32(len(ref))
		last := r.last()
		switch op % 3 {
		case 0: // new messages
			u := last
			for range 1 + a%8 {
				u += 1 + store.UID(b%4/3) // mostly consecutive, a gap now and then
				r.add(u)
				ref = append(ref, u)
				b /= 2
			}
		case 1: // expunges: a stretch of the set, every one or every other, perhaps
			// a UID the set does not hold and a duplicate
			var rm []store.UID
			stride := uint32(1 + b%2)
			for s := 1 + uint32(a)%(n+1); s <= n && len(rm) < int(1+b%16); s += stride {
				rm = append(rm, ref[s-1])
				if b%7 == 0 {
					rm = append(rm, ref[s-1])
				}
			}
			if b%5 == 0 {
				rm = append(rm, last+1)
			}
			var seqs []uint32
			var gone []store.UID
			r.remove(rm, func(s uint32, u store.UID) {
				seqs = append(seqs, s)
				gone = append(gone, u)
			})
			var wantSeqs []uint32
			wantSeqs, ref = removeRef(ref, rm)
			if !slices.Equal(seqs, wantSeqs) || len(gone) != len(seqs) {
				t.Fatalf("removing %v: sequence numbers %v (UIDs %v), want %v", rm, seqs, gone, wantSeqs)
			}
		case 2: // ranges, as FETCH and UID FETCH resolve them
			if n > 0 {
				lo, hi := 1+uint32(a)%n, 1+uint32(b)%n
				want := []store.UID(nil)
				if lo <= hi {
					want = ref[lo-1 : hi]
				}
				if got := r.appendSeqs(nil, lo, hi); !slices.Equal(got, want) {
					t.Fatalf("seqs %d:%d = %v, want %v", lo, hi, got, want)
				}
			}
			ulo, uhi := store.UID(a)%(last+2), store.UID(a)%(last+2)+store.UID(b)
			var want []store.UID
			for _, u := range ref {
				if u >= ulo && u <= uhi {
					want = append(want, u)
				}
			}
			if got := r.appendUIDs(nil, ulo, uhi); !slices.Equal(got, want) {
				t.Fatalf("UIDs %d:%d = %v, want %v", ulo, uhi, got, want)
			}
		}
		checkRuns(t, r, ref)
	}
}

// TestUIDRunsRandom cross-checks random appends, expunges and lookups against a plain
// slice over many seeds.
func TestUIDRunsRandom(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 1))
		ops := make([]byte, 3*200)
		for i := 0; i < len(ops); i += 8 {
			binary.LittleEndian.PutUint64(ops[i:], rng.Uint64())
		}
		applyRunOps(t, ops)
	}
}

// FuzzView applies an operation sequence to the view's sequence number -> UID map
// and to a plain slice and compares them.
func FuzzView(f *testing.F) {
	f.Add([]byte{0, 7, 0, 0, 7, 255, 1, 2, 1, 2, 0, 9})
	f.Add([]byte{0, 3, 0, 1, 0, 14, 1, 0, 7, 1, 255, 255, 0, 2, 3})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 3000 {
			return
		}
		applyRunOps(t, ops)
	})
}

// TestUIDRunsAddRun appends whole runs, as a view opened from the store's index does:
// a run that continues the last one joins it.
func TestUIDRunsAddRun(t *testing.T) {
	tests := []struct {
		name string
		runs []store.UIDRange
		want []store.UID
	}{
		{"none", nil, nil},
		{"one", []store.UIDRange{{First: 3, Last: 5}}, []store.UID{3, 4, 5}},
		{"single UIDs", []store.UIDRange{{First: 1, Last: 1}, {First: 4, Last: 4}}, []store.UID{1, 4}},
		{"gaps", []store.UIDRange{{First: 1, Last: 2}, {First: 5, Last: 7}, {First: 10, Last: 10}}, []store.UID{1, 2, 5, 6, 7, 10}},
		{"touching runs join", []store.UIDRange{{First: 1, Last: 2}, {First: 3, Last: 4}}, []store.UID{1, 2, 3, 4}},
		{"empty run skipped", []store.UIDRange{{First: 2, Last: 1}, {First: 8, Last: 9}}, []store.UID{8, 9}},
		{"highest UIDs", []store.UIDRange{{First: math.MaxUint32 - 2, Last: math.MaxUint32}}, []store.UID{math.MaxUint32 - 2, math.MaxUint32 - 1, math.MaxUint32}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &uidRuns{}
			for _, run := range tt.runs {
				r.addRun(run.First, run.Last)
			}
			checkRuns(t, r, tt.want)
		})
	}
}
