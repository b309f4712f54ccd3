package imapwire

import (
	"slices"

	"mailroom/internal/mime"
)

// Envelope writes an ENVELOPE (RFC 9051 section 7.5.2, RFC 3501 section 7.4.2):
// "(" date subject from sender reply-to to cc bcc in-reply-to message-id ")", absent
// fields as NIL. The strings are the raw header values mime keeps, encoded-words
// included.
func (w *Writer) Envelope(env *mime.Envelope) *Writer {
	w.Open().NString(env.Date).SP().NString(env.Subject)
	for _, list := range [][]mime.Address{env.From, env.Sender, env.ReplyTo, env.To, env.Cc, env.Bcc} {
		w.SP().addressList(list)
	}
	return w.SP().NString(env.InReplyTo).SP().NString(env.MessageID).Close()
}

// addressList writes "(" 1*address ")" or NIL. Each address is
// "(" name adl mailbox host ")" with adl always NIL (source routes are obsolete); group
// markers come out as (NIL NIL "group" NIL) and (NIL NIL NIL NIL) because their empty
// fields are NIL.
func (w *Writer) addressList(list []mime.Address) *Writer {
	if len(list) == 0 {
		return w.Nil()
	}
	w.Open()
	for _, a := range list {
		w.Open().NString(a.Name).raw(" NIL ").NString(a.Mailbox).SP().NString(a.Host).Close()
	}
	return w.Close()
}

// BodyStructure writes the BODYSTRUCTURE of p (extended true) or the BODY form without
// extension data (extended false) (RFC 9051 section 7.5.2, RFC 3501 section 7.4.2).
// Type, subtype, transfer encoding, disposition and parameter names are upper case;
// parameter values are as in the message, decoded from RFC 2231.
func (w *Writer) BodyStructure(p *mime.Part, extended bool) *Writer {
	if len(p.Parts) > 0 {
		return w.multipart(p, extended)
	}
	w.Open().String(upper(p.Type)).SP().String(upper(p.Subtype)).SP()
	// body-fields: param id desc enc octets.
	w.params(p.Params).SP().NString(p.ID).SP().NString(p.Description).SP()
	enc := p.Encoding
	if enc == "" {
		enc = "7bit"
	}
	w.String(upper(enc)).SP().Number(uint64(max(p.Size(), 0)))
	switch {
	case p.Message != nil:
		// body-type-msg: envelope, body and lines of the encapsulated message.
		w.SP().Envelope(&p.Message.Envelope).SP().BodyStructure(&p.Message.Root, extended)
		w.SP().Number(uint64(max(p.Lines, 0)))
	case p.Type == "text":
		w.SP().Number(uint64(max(p.Lines, 0)))
	}
	if extended {
		// body-ext-1part: md5 disposition language location.
		w.SP().NString(p.MD5).SP().extTail(p)
	}
	return w.Close()
}

// multipart writes body-type-mpart: the parts with no space between them, the subtype
// and, extended, body-ext-mpart: params disposition language location.
func (w *Writer) multipart(p *mime.Part, extended bool) *Writer {
	w.Open()
	for i := range p.Parts {
		w.BodyStructure(&p.Parts[i], extended)
	}
	w.SP().String(upper(p.Subtype))
	if extended {
		w.SP().params(p.Params).SP().extTail(p)
	}
	return w.Close()
}

// extTail writes body-fld-dsp SP body-fld-lang SP body-fld-loc.
func (w *Writer) extTail(p *mime.Part) *Writer {
	if p.Disposition == "" {
		w.Nil()
	} else {
		w.Open().String(upper(p.Disposition)).SP().params(p.DispositionParams).Close()
	}
	w.SP()
	if len(p.Language) == 0 {
		w.Nil()
	} else {
		w.Strings(p.Language)
	}
	return w.SP().NString(p.Location)
}

// params writes body-fld-param: "(" name value ... ")" sorted by name, or NIL.
func (w *Writer) params(m map[string]string) *Writer {
	if len(m) == 0 {
		return w.Nil()
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.Open()
	for i, k := range keys {
		if i > 0 {
			w.SP()
		}
		w.String(upper(k)).SP().String(m[k])
	}
	return w.Close()
}
