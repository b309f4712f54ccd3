package sqlstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"mailroom/internal/mime"
)

// Reading a message decodes its stored summary (the envelope and MIME tree written by
// json.Marshal at delivery). encoding/json spends most of a big folder's FETCH ENVELOPE
// there (issue #4), so the summaries and property bags are read by the decoder below,
// which knows their exact shape. It accepts only what json.Marshal writes for these types
// — known keys, each once, no null, integers, strings whose escapes it leaves to
// encoding/json — and hands anything else to encoding/json whole, so the result is always
// what json.Unmarshal gives (FuzzDecodeSummary checks that).

// errUnusual makes the fast decoder give the input to encoding/json.
var errUnusual = errors.New("not in the form json.Marshal writes")

// maxSummaryDepth bounds the fast decoder's recursion; mime.MaxDepth keeps real summaries
// far below it.
const maxSummaryDepth = 200

// decodeSummary decodes a stored summary into sm.
func decodeSummary(data []byte, sm *summary) error {
	d := summaryDecoder{b: data}
	var m mime.Message
	if err := d.top(func() error { return d.message(&m, 0) }); err == nil {
		sm.Envelope, sm.Root = m.Envelope, m.Root
		return nil
	}
	*sm = summary{}
	return json.Unmarshal(data, sm)
}

// decodeProps decodes a stored property bag.
func decodeProps(data []byte) (map[string]string, error) {
	d := summaryDecoder{b: data}
	var props map[string]string
	if err := d.top(func() error { return d.stringMap(&props) }); err == nil {
		return props, nil
	}
	props = nil
	err := json.Unmarshal(data, &props)
	return props, err
}

// summaryDecoder reads JSON from b at i. Its methods return errUnusual (or another error)
// for anything they do not take, after which the input goes to encoding/json.
type summaryDecoder struct {
	b []byte
	i int
}

// top decodes one value with value and requires that nothing but white space follows.
func (d *summaryDecoder) top(value func() error) error {
	if err := value(); err != nil {
		return err
	}
	d.space()
	if d.i != len(d.b) {
		return errUnusual
	}
	return nil
}

func (d *summaryDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c, consuming it if so.
func (d *summaryDecoder) next(c byte) bool {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// open reads the opening bracket c ('{' or '[') and reports whether a member follows.
// A loop over the members reads one (for an object: key, then value), then calls more.
func (d *summaryDecoder) open(c byte) (bool, error) {
	if !d.next(c) {
		return false, errUnusual
	}
	closing := byte('}')
	if c == '[' {
		closing = ']'
	}
	return !d.next(closing), nil
}

// more reads what follows a member: a comma (true) or the closing bracket (false). It
// passes on the error of the member, err, without reading, which ends the loop.
func (d *summaryDecoder) more(closing byte, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	switch {
	case d.next(closing):
		return false, nil
	case d.next(','):
		return true, nil
	}
	return false, errUnusual
}

// field reads an object's key and the colon after it. seen collects the bit of every
// key read: a key given twice, which encoding/json would merge, is unusual.
func (d *summaryDecoder) field(seen *uint64, keys ...string) (int, error) {
	key, err := d.rawKey()
	if err != nil {
		return 0, err
	}
	if !d.next(':') {
		return 0, errUnusual
	}
	for i, k := range keys {
		if string(key) == k {
			if *seen&(1<<i) != 0 {
				return 0, errUnusual
			}
			*seen |= 1 << i
			return i, nil
		}
	}
	return 0, errUnusual
}

// rawKey reads a key without escapes and returns its bytes.
func (d *summaryDecoder) rawKey() ([]byte, error) {
	if !d.next('"') {
		return nil, errUnusual
	}
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			return d.b[start : d.i-1], nil
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, errUnusual
		}
		d.i++
	}
	return nil, errUnusual
}

// str reads a string. One without escapes that is valid UTF-8 is taken as it is, as
// encoding/json does; any other goes to encoding/json alone.
func (d *summaryDecoder) str(s *string) error {
	if !d.next('"') {
		return errUnusual
	}
	start := d.i
	plain, ascii := true, true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			d.i++
			switch {
			case plain && (ascii || utf8.Valid(d.b[start:d.i-1])):
				*s = string(d.b[start : d.i-1])
				return nil
			default:
				return json.Unmarshal(d.b[start-1:d.i], s)
			}
		case c == '\\':
			plain = false
			d.i++ // the escaped byte cannot end the string
		case c < 0x20:
			return errUnusual
		case c >= utf8.RuneSelf:
			ascii = false
		}
		d.i++
	}
	return errUnusual
}

// int reads an integer in JSON's syntax (no fraction or exponent).
func (d *summaryDecoder) int(n *int64) error {
	d.space()
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	digits := d.i
	for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
		d.i++
	}
	if d.i == digits || (d.b[digits] == '0' && d.i > digits+1) {
		return errUnusual
	}
	if d.i < len(d.b) && (d.b[d.i] == '.' || d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		return errUnusual
	}
	v, err := strconv.ParseInt(string(d.b[start:d.i]), 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnusual, err)
	}
	*n = v
	return nil
}

func (d *summaryDecoder) strings(out *[]string) error {
	list := []string{}
	more, err := d.open('[')
	for ; more && err == nil; more, err = d.more(']', err) {
		var s string
		if err = d.str(&s); err != nil {
			break
		}
		list = append(list, s)
	}
	*out = list
	return err
}

func (d *summaryDecoder) stringMap(out *map[string]string) error {
	m := map[string]string{}
	*out = m
	more, err := d.open('{')
	for ; more && err == nil; more, err = d.more('}', err) {
		var k, v string
		if err = d.str(&k); err != nil {
			break
		}
		if !d.next(':') {
			return errUnusual
		}
		if err = d.str(&v); err != nil {
			break
		}
		m[k] = v
	}
	return err
}

// object decodes a JSON object whose keys are all in keys, each at most once, calling
// value with the key's index to decode its value.
func (d *summaryDecoder) object(keys []string, value func(k int) error) error {
	var seen uint64
	more, err := d.open('{')
	for ; more && err == nil; more, err = d.more('}', err) {
		var k int
		if k, err = d.field(&seen, keys...); err != nil {
			break
		}
		err = value(k)
	}
	return err
}

var (
	messageKeys  = []string{"envelope", "root"}
	envelopeKeys = []string{"date", "subject", "from", "sender", "replyTo", "to", "cc", "bcc", "inReplyTo", "messageId", "references"}
	addressKeys  = []string{"name", "mailbox", "host"}
	partKeys     = []string{"type", "subtype", "params", "id", "description", "encoding", "disposition", "dispositionParams",
		"language", "location", "md5", "hs", "bs", "end", "lines", "parts", "message"}
)

func (d *summaryDecoder) message(m *mime.Message, depth int) error {
	if depth > maxSummaryDepth {
		return errUnusual
	}
	return d.object(messageKeys, func(k int) (err error) {
		switch k {
		case 0:
			err = d.envelope(&m.Envelope)
		case 1:
			err = d.part(&m.Root, depth+1)
		}
		return err
	})
}

func (d *summaryDecoder) envelope(e *mime.Envelope) error {
	return d.object(envelopeKeys, func(k int) (err error) {
		switch k {
		case 0:
			err = d.str(&e.Date)
		case 1:
			err = d.str(&e.Subject)
		case 2:
			err = d.addresses(&e.From)
		case 3:
			err = d.addresses(&e.Sender)
		case 4:
			err = d.addresses(&e.ReplyTo)
		case 5:
			err = d.addresses(&e.To)
		case 6:
			err = d.addresses(&e.Cc)
		case 7:
			err = d.addresses(&e.Bcc)
		case 8:
			err = d.str(&e.InReplyTo)
		case 9:
			err = d.str(&e.MessageID)
		case 10:
			err = d.strings(&e.References)
		}
		return err
	})
}

func (d *summaryDecoder) addresses(out *[]mime.Address) error {
	list := []mime.Address{}
	more, err := d.open('[')
	for ; more && err == nil; more, err = d.more(']', err) {
		var a mime.Address
		if err = d.address(&a); err != nil {
			break
		}
		list = append(list, a)
	}
	*out = list
	return err
}

func (d *summaryDecoder) address(a *mime.Address) error {
	return d.object(addressKeys, func(k int) (err error) {
		switch k {
		case 0:
			err = d.str(&a.Name)
		case 1:
			err = d.str(&a.Mailbox)
		case 2:
			err = d.str(&a.Host)
		}
		return err
	})
}

func (d *summaryDecoder) part(p *mime.Part, depth int) error {
	if depth > maxSummaryDepth {
		return errUnusual
	}
	return d.object(partKeys, func(k int) (err error) {
		switch k {
		case 0:
			err = d.str(&p.Type)
		case 1:
			err = d.str(&p.Subtype)
		case 2:
			err = d.stringMap(&p.Params)
		case 3:
			err = d.str(&p.ID)
		case 4:
			err = d.str(&p.Description)
		case 5:
			err = d.str(&p.Encoding)
		case 6:
			err = d.str(&p.Disposition)
		case 7:
			err = d.stringMap(&p.DispositionParams)
		case 8:
			err = d.strings(&p.Language)
		case 9:
			err = d.str(&p.Location)
		case 10:
			err = d.str(&p.MD5)
		case 11:
			err = d.int(&p.HeaderStart)
		case 12:
			err = d.int(&p.BodyStart)
		case 13:
			err = d.int(&p.End)
		case 14:
			err = d.int(&p.Lines)
		case 15:
			err = d.parts(&p.Parts, depth+1)
		case 16:
			p.Message = &mime.Message{}
			err = d.message(p.Message, depth+1)
		}
		return err
	})
}

func (d *summaryDecoder) parts(out *[]mime.Part, depth int) error {
	list := []mime.Part{}
	more, err := d.open('[')
	for ; more && err == nil; more, err = d.more(']', err) {
		var p mime.Part
		if err = d.part(&p, depth); err != nil {
			break
		}
		list = append(list, p)
	}
	*out = list
	return err
}
