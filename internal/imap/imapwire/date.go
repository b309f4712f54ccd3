package imapwire

import (
	"time"
)

var months = [...]string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

// date reads a date: date-text or DQUOTE date-text DQUOTE, date-text being
// 1*2DIGIT "-" month "-" 4DIGIT (RFC 9051 section 9). The time is midnight UTC; SEARCH
// compares dates without time and timezone (RFC 9051 section 6.4.4).
func (p *parser) date() time.Time {
	q := p.consume('"')
	day := p.digits(1, 2)
	p.expect('-')
	m := p.month()
	p.expect('-')
	year := p.digits(4, 4)
	if q {
		p.expect('"')
	}
	return p.makeDate(year, m, day, 0, 0, 0, time.UTC)
}

// dateTime reads a date-time: DQUOTE date-day-fixed "-" month "-" year SP time SP zone
// DQUOTE, e.g. "17-Jul-1996 02:44:25 -0700" (RFC 9051 section 9).
func (p *parser) dateTime() time.Time {
	p.expect('"')
	var day int
	if p.consume(' ') {
		day = p.digits(1, 1)
	} else {
		day = p.digits(2, 2)
	}
	p.expect('-')
	m := p.month()
	p.expect('-')
	year := p.digits(4, 4)
	p.sp()
	hh := p.digits(2, 2)
	p.expect(':')
	mm := p.digits(2, 2)
	p.expect(':')
	ss := p.digits(2, 2)
	p.sp()
	sign := 1
	switch {
	case p.consume('+'):
	case p.consume('-'):
		sign = -1
	default:
		p.fail("expected zone")
	}
	zone := p.digits(4, 4)
	p.expect('"')
	if hh > 23 || mm > 59 || ss > 60 || zone%100 > 59 {
		p.fail("invalid time")
	}
	offset := sign * (zone/100*3600 + zone%100*60)
	return p.makeDate(year, m, day, hh, mm, ss, time.FixedZone("", offset))
}

func (p *parser) makeDate(year int, m time.Month, day, hh, mm, ss int, loc *time.Location) time.Time {
	t := time.Date(year, m, day, hh, mm, ss, 0, loc)
	if t.Day() != day || t.Month() != m {
		p.fail("invalid date")
	}
	return t
}

func (p *parser) month() time.Month {
	t := p.text()
	if p.pos+3 <= len(t) {
		s := upper(string(t[p.pos : p.pos+3]))
		for i, name := range months {
			if s == name {
				p.pos += 3
				return time.Month(i + 1)
			}
		}
	}
	p.fail("expected month at %q", p.rest())
	return 0
}

// digits reads between min and max decimal digits.
func (p *parser) digits(min, max int) int {
	t := p.text()
	n, i := 0, 0
	for ; i < max && p.pos < len(t) && isDigit(t[p.pos]); i++ {
		n = n*10 + int(t[p.pos]-'0')
		p.pos++
	}
	if i < min {
		p.fail("expected %d digits at %q", min, p.rest())
	}
	return n
}

// FormatDateTime formats t as an IMAP date-time without quotes, e.g.
// "17-Jul-1996 02:44:25 -0700", as INTERNALDATE wants it (RFC 9051 section 9).
func FormatDateTime(t time.Time) string {
	return t.Format("02-Jan-2006 15:04:05 -0700")
}
