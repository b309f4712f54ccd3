package wbxml

// Global tokens, WBXML 1.3 section 7.1; they mean the same on every code page.
const (
	tokSwitchPage = 0x00
	tokEnd        = 0x01
	tokEntity     = 0x02
	tokStrI       = 0x03
	tokLiteral    = 0x04
	tokExtI0      = 0x40
	tokExtI1      = 0x41
	tokExtI2      = 0x42
	tokPI         = 0x43
	tokLiteralC   = 0x44
	tokExtT0      = 0x80
	tokExtT1      = 0x81
	tokExtT2      = 0x82
	tokStrT       = 0x83
	tokLiteralA   = 0x84
	tokExt0       = 0xC0
	tokExt1       = 0xC1
	tokExt2       = 0xC2
	tokOpaque     = 0xC3
	tokLiteralAC  = 0xC4
)

// Tag token bits, WBXML 1.3 section 5.8.2.
const (
	tagIDMask     = 0x3F
	tagHasContent = 0x40
	tagHasAttrs   = 0x80
)

// Header values ActiveSync writes (the [MS-ASWBXML] example): WBXML 1.3, public
// identifier 1 ("unknown or missing"), UTF-8 (IANA MIBenum 106).
const (
	version13      = 0x03
	publicIDNone   = 0x01
	charsetUTF8    = 0x6A
	charsetASCII   = 0x03
	charsetUnknown = 0x00
)

// maxMBUint32Len is the longest mb_u_int32 that fits 32 bits: 5 bytes of 7 bits
// (WBXML 1.3 section 5.1).
const maxMBUint32Len = 5

// readMBUint32 reads a WBXML multi-byte integer at b[i:]; it returns the value
// and the offset after it.
func readMBUint32(b []byte, i int) (uint32, int, error) {
	var v uint64
	for n := 0; n < maxMBUint32Len; n++ {
		if i >= len(b) {
			return 0, i, ErrTruncated
		}
		c := b[i]
		i++
		v = v<<7 | uint64(c&0x7F)
		if c&0x80 == 0 {
			if v > 0xFFFFFFFF {
				return 0, i, ErrIntOverflow
			}
			return uint32(v), i, nil
		}
	}
	return 0, i, ErrIntOverflow
}

// appendMBUint32 appends v as a WBXML multi-byte integer.
func appendMBUint32(b []byte, v uint32) []byte {
	var tmp [maxMBUint32Len]byte
	i := len(tmp) - 1
	tmp[i] = byte(v & 0x7F)
	for v >>= 7; v != 0; v >>= 7 {
		i--
		tmp[i] = byte(v&0x7F) | 0x80
	}
	return append(b, tmp[i:]...)
}
