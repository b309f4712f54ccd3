package activesync

// SendMail, SmartReply and SmartForward follow [MS-ASCMD] 2.2.1.17, 2.2.1.20 and
// 2.2.1.19: 14.0 and later send ComposeMail WBXML with the message in Mime (OPAQUE),
// SaveInSentItems, ReplaceMime and Source; 12.1 sends the raw message as
// message/rfc822 with CollectionId, ItemId and SaveInSent in the query. The server
// quotes the original under a reply and attaches it to a forward, unless ReplaceMime
// says the device already included it. The finished message goes to the Submitter.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	stdmime "mime"
	"net/http"
	"slices"
	"strings"

	"mailroom/internal/mime"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// composed is a ComposeMail request in either form.
type composed struct {
	mime        []byte
	saveInSent  bool
	replaceMime bool
	itemID      string // the original's ServerId, for SmartReply and SmartForward
}

// readCompose reads the request of SendMail, SmartReply or SmartForward.
func readCompose(r *request) (composed, error) {
	if r.version < 140 || r.contentType == "message/rfc822" {
		id := r.params["ItemId"]
		if id == "" {
			id = r.params["LongId"]
		}
		return composed{mime: r.body, saveInSent: r.saveInSent, itemID: id}, nil
	}
	req, err := decodeBody(r)
	if err != nil {
		return composed{}, err
	}
	ns := wbxml.NSComposeMail
	c := composed{
		saveInSent:  req.Child(ns, "SaveInSentItems") != nil,
		replaceMime: req.Child(ns, "ReplaceMime") != nil,
		itemID:      req.Child(ns, "Source").ChildText(ns, "ItemId"),
	}
	if c.itemID == "" {
		c.itemID = req.Child(ns, "Source").ChildText(ns, "LongId") // a Search result
	}
	if m := req.Child(ns, "Mime"); m != nil {
		c.mime = m.Opaque
		if c.mime == nil {
			c.mime = []byte(m.Text)
		}
	}
	return c, nil
}

func (s *Server) sendMail(ctx context.Context, w http.ResponseWriter, r *request) error {
	return s.compose(ctx, w, r, nil)
}

func (s *Server) smartReply(ctx context.Context, w http.ResponseWriter, r *request) error {
	return s.compose(ctx, w, r, quoteOriginal)
}

func (s *Server) smartForward(ctx context.Context, w http.ResponseWriter, r *request) error {
	return s.compose(ctx, w, r, attachOriginal)
}

// compose runs the three commands: with, when not nil, adds the original message.
func (s *Server) compose(ctx context.Context, w http.ResponseWriter, r *request,
	with func(msg []byte, orig *store.Message, origRaw []byte) []byte) error {
	c, err := readCompose(r)
	if err != nil {
		return err
	}
	fail := func(code commonStatus) error {
		if r.version < 140 {
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return nil
		}
		return s.writeCommonStatus(w, r, code)
	}
	if len(bytes.TrimSpace(c.mime)) == 0 {
		return fail(statusInvalidMIME)
	}
	msg := c.mime
	if with != nil && !c.replaceMime {
		orig, found, err := s.ownMessage(ctx, r, c.itemID)
		if err != nil {
			return err
		}
		if !found {
			return fail(statusItemNotFound)
		}
		origRaw, err := s.store.Raw(ctx, orig.ID)
		if err != nil {
			return fmt.Errorf("original %s: %w", c.itemID, err)
		}
		msg = with(msg, &orig, origRaw)
	}
	if err := s.submitter.Submit(ctx, r.user, msg, c.saveInSent); err != nil {
		s.log.Warn("submission failed", "cmd", r.cmd, "user", r.user.Address, "err", err)
		if errors.Is(err, store.ErrOverQuota) {
			return fail(statusMailboxQuotaExceeded)
		}
		return fail(statusMailSubmissionFailed)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// splitMessage cuts a message into its header lines (each with its folded
// continuation lines) and its body.
func splitMessage(raw []byte) (fields []string, body []byte) {
	head := raw
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\n' {
			continue
		}
		rest := raw[i+1:]
		if bytes.HasPrefix(rest, []byte("\r\n")) {
			head, body = raw[:i+1], rest[2:]
			break
		}
		if bytes.HasPrefix(rest, []byte("\n")) {
			head, body = raw[:i+1], rest[1:]
			break
		}
	}
	for _, line := range strings.SplitAfter(string(head), "\n") {
		trimmed := strings.TrimRight(line, "\r\n")
		switch {
		case trimmed == "":
		case (line[0] == ' ' || line[0] == '\t') && len(fields) > 0:
			fields[len(fields)-1] += "\r\n" + trimmed
		default:
			fields = append(fields, trimmed)
		}
	}
	return fields, body
}

func fieldName(f string) string {
	name, _, _ := strings.Cut(f, ":")
	return strings.ToLower(strings.TrimSpace(name))
}

// headerField is one header field to add.
type headerField struct{ name, value string }

// wrapWith builds multipart/mixed from msg: its own content first, then extra (a
// complete MIME entity: header fields, blank line, body). Fields of add are written at
// the top level unless msg has them already.
func wrapWith(msg []byte, extra string, add []headerField) []byte {
	fields, body := splitMessage(msg)
	var top, content []string
	for _, f := range fields {
		switch n := fieldName(f); {
		case n == "mime-version":
		case strings.HasPrefix(n, "content-"):
			content = append(content, f)
		default:
			top = append(top, f)
			add = slices.DeleteFunc(add, func(h headerField) bool { return strings.ToLower(h.name) == n })
		}
	}
	if len(content) == 0 {
		content = []string{"Content-Type: text/plain; charset=utf-8"}
	}
	boundary := newBoundary()
	var b bytes.Buffer
	for _, f := range top {
		b.WriteString(f + "\r\n")
	}
	for _, h := range add {
		if h.value != "" {
			b.WriteString(h.name + ": " + h.value + "\r\n")
		}
	}
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString(`Content-Type: multipart/mixed; boundary="` + boundary + "\"\r\n\r\n")
	b.WriteString("--" + boundary + "\r\n")
	for _, f := range content {
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.WriteString(extra)
	b.WriteString("\r\n--" + boundary + "--\r\n")
	return b.Bytes()
}

func newBoundary() string {
	var r [18]byte
	rand.Read(r[:])
	return "=_mailroom_" + base64.RawURLEncoding.EncodeToString(r[:])
}

// quoteOriginal adds the original's text under a reply, quoted, and threads the reply.
func quoteOriginal(msg []byte, orig *store.Message, origRaw []byte) []byte {
	text := findBodies(orig, origRaw).plainText(origRaw)
	from, _ := formatAddresses(orig.Envelope.From)
	var q strings.Builder
	fmt.Fprintf(&q, "On %s, %s wrote:\r\n", orig.InternalDate.UTC().Format("Mon, 2 Jan 2006 15:04 MST"), from)
	for line := range strings.SplitSeq(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		q.WriteString("> " + line + "\r\n")
	}
	refs := strings.Join(orig.Envelope.References, " ")
	if id := orig.Envelope.MessageID; id != "" {
		refs = strings.TrimSpace(refs + " " + id)
	}
	part := "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64Lines([]byte(q.String()))
	return wrapWith(msg, part, []headerField{{"In-Reply-To", orig.Envelope.MessageID}, {"References", refs}})
}

// attachOriginal attaches the original message, with all its attachments, to a forward.
func attachOriginal(msg []byte, orig *store.Message, origRaw []byte) []byte {
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == '\\' || r == '/' {
			return '_'
		}
		return r
	}, threadTopic(mime.DecodeHeader(orig.Envelope.Subject)))
	if name == "" {
		name = "message"
	}
	part := "Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"" +
		stdmime.QEncoding.Encode("utf-8", name+".eml") + "\"\r\n\r\n" + string(origRaw)
	return wrapWith(msg, part, nil)
}

// base64Lines encodes b in lines of 76 characters (RFC 2045 6.8).
func base64Lines(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(enc) > 76 {
		sb.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	sb.WriteString(enc + "\r\n")
	return sb.String()
}
