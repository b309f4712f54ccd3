package directory

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bootstring parameters for Punycode, RFC 3492 section 5.
const (
	pcBase        = 36
	pcTMin        = 1
	pcTMax        = 26
	pcSkew        = 38
	pcDamp        = 700
	pcInitialBias = 72
	pcInitialN    = 128
)

// punycodeDecode decodes the Punycode string s (without the xn-- prefix) following
// the decoding procedure of RFC 3492 section 6.2. Only decoding is needed: Mailroom
// accepts domains in their ASCII form and only checks that an A-label is well formed.
func punycodeDecode(s string) (string, error) {
	var out []rune
	rest := s
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		for j := 0; j < i; j++ {
			if s[j] >= 0x80 {
				return "", fmt.Errorf("non-ASCII basic code point")
			}
			out = append(out, rune(s[j]))
		}
		rest = s[i+1:]
	}
	n, i, bias := pcInitialN, 0, pcInitialBias
	for pos := 0; pos < len(rest); {
		oldi, w := i, 1
		for k := pcBase; ; k += pcBase {
			if pos >= len(rest) {
				return "", fmt.Errorf("truncated")
			}
			digit, ok := punycodeDigit(rest[pos])
			pos++
			if !ok {
				return "", fmt.Errorf("invalid digit %q", rest[pos-1])
			}
			if digit > (maxInt32-i)/w {
				return "", fmt.Errorf("overflow")
			}
			i += digit * w
			t := k - bias
			if t < pcTMin {
				t = pcTMin
			} else if t > pcTMax {
				t = pcTMax
			}
			if digit < t {
				break
			}
			if w > maxInt32/(pcBase-t) {
				return "", fmt.Errorf("overflow")
			}
			w *= pcBase - t
		}
		bias = punycodeAdapt(i-oldi, len(out)+1, oldi == 0)
		if i/(len(out)+1) > maxInt32-n {
			return "", fmt.Errorf("overflow")
		}
		n += i / (len(out) + 1)
		i %= len(out) + 1
		if n > utf8.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
			return "", fmt.Errorf("invalid code point")
		}
		out = append(out, 0)
		copy(out[i+1:], out[i:])
		out[i] = rune(n)
		i++
	}
	return string(out), nil
}

const maxInt32 = 1<<31 - 1

func punycodeDigit(c byte) (int, bool) {
	switch {
	case 'a' <= c && c <= 'z':
		return int(c - 'a'), true
	case 'A' <= c && c <= 'Z':
		return int(c - 'A'), true
	case '0' <= c && c <= '9':
		return int(c-'0') + 26, true
	}
	return 0, false
}

// punycodeAdapt is the bias adaptation function of RFC 3492 section 6.1.
func punycodeAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((pcBase-pcTMin)*pcTMax)/2 {
		delta /= pcBase - pcTMin
		k += pcBase
	}
	return k + (pcBase-pcTMin+1)*delta/(delta+pcSkew)
}
