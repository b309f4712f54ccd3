package imap

// An inflater for COMPRESS=DEFLATE (RFC 4978) input: raw DEFLATE (RFC 1951).
//
// compress/flate's reader keeps what it has inflated until the stream holds a stored
// block, fills its window or ends. A client that ends each command with a sync flush
// sends an empty stored block and is read at once; but some clients (isync's mbsync
// among them) use a partial flush, which ends a command with an empty fixed-Huffman
// block, and compress/flate then waits for more input before handing over a command
// the client has sent whole: both sides wait. This inflater hands over what it has
// inflated before it reads the header of a new block, the only place a flushed
// stream can make it wait, so a command is read as soon as the client has flushed it.

import (
	"bufio"
	"errors"
	"io"
)

const (
	windowSize = 1 << 15 // RFC 1951 section 2: distances reach back 32768 bytes
	maxBits    = 15      // the longest Huffman code
)

var errCorrupt = errors.New("inflate: corrupt DEFLATE stream")

// huffman is a canonical Huffman code: how many codes each length has and the symbols
// in code order (RFC 1951 section 3.2.2).
type huffman struct {
	count  [maxBits + 1]uint16
	symbol [288]uint16
}

// build makes the code from the code lengths of the symbols. An over-subscribed set
// of lengths is an error; an incomplete one is allowed, as a distance code with one
// symbol is (RFC 1951 section 3.2.7).
func (h *huffman) build(lengths []uint8) error {
	h.count = [maxBits + 1]uint16{}
	for _, l := range lengths {
		h.count[l]++
	}
	left := 1
	for l := 1; l <= maxBits; l++ {
		left = left<<1 - int(h.count[l])
		if left < 0 {
			return errCorrupt
		}
	}
	var offs [maxBits + 2]uint16
	for l := 1; l <= maxBits; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for sym, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = uint16(sym)
			offs[l]++
		}
	}
	return nil
}

// The base values and extra bits of lengths and distances (RFC 1951 section 3.2.5).
var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// codeOrder is the order of the code length code lengths (RFC 1951 section 3.2.7).
	codeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// inflater reads a DEFLATE stream. Its memory is fixed: the window, one output
// buffer and the codes of the current block.
type inflater struct {
	r     *bufio.Reader
	bits  uint64
	nbits uint

	win  [windowSize]byte
	wpos int // where the next byte goes in win
	have int // bytes of history in win

	outBuf [4096]byte
	out    []byte // inflated, not yet returned
	err    error

	inBlock  bool
	final    bool // the block being read, or the last one read, is the last
	stored   int  // bytes left in a stored block; -1 in a Huffman block
	lit      huffman
	dist     huffman
	copyLen  int // bytes left of a match being copied
	copyDist int
}

// newInflater returns an inflater reading r.
func newInflater(r io.Reader) *inflater {
	return &inflater{r: bufio.NewReader(r)}
}

// Read returns inflated bytes; it blocks only when it has none to return.
func (f *inflater) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		f.fill()
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

// fill inflates into the output buffer until it is full, or a block ends with output
// waiting, or an error.
func (f *inflater) fill() {
	buf := f.outBuf[:0]
	defer func() { f.out = buf }()
	emit := func(b byte) {
		buf = append(buf, b)
		f.win[f.wpos] = b
		f.wpos = (f.wpos + 1) & (windowSize - 1)
		f.have = min(f.have+1, windowSize)
	}
	for len(buf) < cap(buf) {
		switch {
		case f.copyLen > 0:
			emit(f.win[(f.wpos-f.copyDist)&(windowSize-1)])
			f.copyLen--
		case !f.inBlock:
			if len(buf) > 0 {
				return // hand over before a header read that may wait
			}
			if f.final {
				f.err = io.EOF
				return
			}
			if f.err = f.header(); f.err != nil {
				return
			}
		case f.stored == 0:
			f.inBlock = false
		case f.stored > 0:
			b, err := f.take(8)
			if err != nil {
				f.err = err
				return
			}
			emit(byte(b))
			f.stored--
		default:
			sym, err := f.decode(&f.lit)
			if err != nil {
				f.err = err
				return
			}
			switch {
			case sym < 256:
				emit(byte(sym))
			case sym == 256:
				f.inBlock = false
			default:
				if f.err = f.match(sym - 257); f.err != nil {
					return
				}
			}
		}
	}
}

// match reads the rest of a length/distance pair whose length symbol is sym.
func (f *inflater) match(sym int) error {
	if sym >= len(lengthBase) {
		return errCorrupt
	}
	extra, err := f.take(uint(lengthExtra[sym]))
	if err != nil {
		return err
	}
	length := int(lengthBase[sym]) + int(extra)
	d, err := f.decode(&f.dist)
	if err != nil {
		return err
	}
	if d >= len(distBase) {
		return errCorrupt
	}
	if extra, err = f.take(uint(distExtra[d])); err != nil {
		return err
	}
	dist := int(distBase[d]) + int(extra)
	if dist > f.have {
		return errCorrupt
	}
	f.copyLen, f.copyDist = length, dist
	return nil
}

// take returns the next n bits, n at most 32.
func (f *inflater) take(n uint) (uint32, error) {
	for f.nbits < n {
		b, err := f.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		f.bits |= uint64(b) << f.nbits
		f.nbits += 8
	}
	v := uint32(f.bits & (1<<n - 1))
	f.bits >>= n
	f.nbits -= n
	return v, nil
}

// decode reads one symbol of code h, a bit at a time (RFC 1951 section 3.1.1: Huffman
// codes are packed starting with the most significant bit of the code).
func (f *inflater) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l <= maxBits; l++ {
		b, err := f.take(1)
		if err != nil {
			return 0, err
		}
		code |= int(b)
		count := int(h.count[l])
		if code-count < first {
			return int(h.symbol[index+code-first]), nil
		}
		index += count
		first = (first + count) << 1
		code <<= 1
	}
	return 0, errCorrupt
}

// header reads a block header and prepares the block (RFC 1951 section 3.2.3).
func (f *inflater) header() error {
	h, err := f.take(3)
	if err != nil {
		return err
	}
	f.final = h&1 == 1
	f.inBlock, f.stored = true, -1
	switch h >> 1 {
	case 0:
		// Stored (RFC 1951 section 3.2.4): skip to a byte boundary, LEN, NLEN.
		f.take(f.nbits % 8)
		lens, err := f.take(32)
		if err != nil {
			return err
		}
		if uint16(lens) != ^uint16(lens>>16) {
			return errCorrupt
		}
		f.stored = int(uint16(lens))
		return nil
	case 1:
		// Fixed Huffman codes (RFC 1951 section 3.2.6).
		var l [288]uint8
		for i := range l {
			switch {
			case i < 144:
				l[i] = 8
			case i < 256:
				l[i] = 9
			case i < 280:
				l[i] = 7
			default:
				l[i] = 8
			}
		}
		d := [30]uint8{}
		for i := range d {
			d[i] = 5
		}
		f.lit.build(l[:])
		f.dist.build(d[:])
		return nil
	case 2:
		return f.dynamic()
	}
	return errCorrupt
}

// dynamic reads the codes of a block with dynamic Huffman codes (RFC 1951 section
// 3.2.7).
func (f *inflater) dynamic() error {
	v, err := f.take(14)
	if err != nil {
		return err
	}
	nlen, ndist, ncode := int(v&31)+257, int(v>>5&31)+1, int(v>>10)+4
	if nlen > 286 || ndist > 30 {
		return errCorrupt
	}
	var lengths [320]uint8
	for i := 0; i < ncode; i++ {
		l, err := f.take(3)
		if err != nil {
			return err
		}
		lengths[codeOrder[i]] = uint8(l)
	}
	var lencode huffman
	if err := lencode.build(lengths[:19]); err != nil {
		return err
	}
	clear(lengths[:19])
	for i := 0; i < nlen+ndist; {
		sym, err := f.decode(&lencode)
		if err != nil {
			return err
		}
		if sym < 16 {
			lengths[i] = uint8(sym)
			i++
			continue
		}
		var l uint8
		var rep uint32
		switch sym {
		case 16:
			if i == 0 {
				return errCorrupt
			}
			l = lengths[i-1]
			rep, err = f.take(2)
			rep += 3
		case 17:
			rep, err = f.take(3)
			rep += 3
		default:
			rep, err = f.take(7)
			rep += 11
		}
		if err != nil {
			return err
		}
		if i+int(rep) > nlen+ndist {
			return errCorrupt
		}
		for ; rep > 0; rep-- {
			lengths[i] = l
			i++
		}
	}
	if lengths[256] == 0 {
		return errCorrupt // no end-of-block code
	}
	if err := f.lit.build(lengths[:nlen]); err != nil {
		return err
	}
	return f.dist.build(lengths[nlen : nlen+ndist])
}
