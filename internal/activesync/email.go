package activesync

// E-mail items as [MS-ASEMAIL] 2.2.2 and [MS-ASAIRS] 2.2.2 describe them: the
// ApplicationData of Sync and the Properties of ItemOperations and Search.

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"html"
	"net/textproto"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mailroom/internal/mime"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// propCategories is the message property holding the item's categories as a JSON list.
const propCategories = "activesync.categories"

// Body types of [MS-ASAIRS] 2.2.2.22.
const (
	bodyPlain = 1
	bodyHTML  = 2
	bodyMIME  = 4
)

// bodyPref is one airsyncbase:BodyPreference ([MS-ASAIRS] 2.2.2.7).
type bodyPref struct {
	Type           int   `json:"type"`
	TruncationSize int64 `json:"truncationSize,omitempty"` // 0: whole body
	AllOrNone      bool  `json:"allOrNone,omitempty"`
	Preview        int   `json:"preview,omitempty"`
}

// itemOptions are the options a Sync collection or a Fetch carries
// ([MS-ASCMD] 2.2.3.125).
type itemOptions struct {
	FilterType  int        `json:"filterType,omitempty"`
	BodyPrefs   []bodyPref `json:"bodyPrefs,omitempty"`
	MIMESupport int        `json:"mimeSupport,omitempty"` // 0 never, 1 S/MIME only, 2 always
}

// parseOptions reads an Options element; space is the namespace of the Options element
// itself (AirSync in Sync, ItemOperations in Fetch).
func parseOptions(o *wbxml.Element) itemOptions {
	var opts itemOptions
	if o == nil {
		return opts
	}
	opts.FilterType, _ = strconv.Atoi(o.ChildText(wbxml.NSAirSync, "FilterType"))
	opts.MIMESupport, _ = strconv.Atoi(o.ChildText(wbxml.NSAirSync, "MIMESupport"))
	for _, bp := range o.All(wbxml.NSAirSyncBase, "BodyPreference") {
		var p bodyPref
		p.Type, _ = strconv.Atoi(bp.ChildText(wbxml.NSAirSyncBase, "Type"))
		p.TruncationSize, _ = strconv.ParseInt(bp.ChildText(wbxml.NSAirSyncBase, "TruncationSize"), 10, 64)
		p.AllOrNone = bp.ChildText(wbxml.NSAirSyncBase, "AllOrNone") == "1"
		p.Preview, _ = strconv.Atoi(bp.ChildText(wbxml.NSAirSyncBase, "Preview"))
		if p.TruncationSize < 0 {
			p.TruncationSize = 0
		}
		opts.BodyPrefs = append(opts.BodyPrefs, p)
	}
	return opts
}

// choose picks the body to send: MIME when asked for and allowed, else HTML, else
// plain text (also when nothing or only RTF is asked for).
func (o itemOptions) choose(mimeAllowed bool) bodyPref {
	var best *bodyPref
	rank := func(t int) int {
		switch t {
		case bodyMIME:
			if mimeAllowed {
				return 3
			}
		case bodyHTML:
			return 2
		case bodyPlain:
			return 1
		}
		return 0
	}
	for i := range o.BodyPrefs {
		p := &o.BodyPrefs[i]
		if rank(p.Type) > 0 && (best == nil || rank(p.Type) > rank(best.Type)) {
			best = p
		}
	}
	if best == nil {
		return bodyPref{Type: bodyPlain}
	}
	return *best
}

// itemServerID names a message as ActiveSync sees it: folder and UID.
func itemServerID(f store.FolderID, u store.UID) string {
	return strconv.FormatInt(int64(f), 10) + ":" + strconv.FormatUint(uint64(u), 10)
}

func parseItemID(s string) (store.FolderID, store.UID, bool) {
	fs, us, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, false
	}
	f, ok := parseFolderID(fs)
	u, err := strconv.ParseUint(us, 10, 32)
	return f, store.UID(u), ok && err == nil && u > 0
}

// fileReference names an attachment: the message and the part's section number.
func fileReference(f store.FolderID, u store.UID, section []int) string {
	parts := make([]string, len(section))
	for i, n := range section {
		parts[i] = strconv.Itoa(n)
	}
	return itemServerID(f, u) + ":" + strings.Join(parts, ".")
}

func parseFileReference(s string) (store.FolderID, store.UID, []int, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return 0, 0, nil, false
	}
	f, u, ok := parseItemID(s[:i])
	if !ok {
		return 0, 0, nil, false
	}
	var section []int
	for p := range strings.SplitSeq(s[i+1:], ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || len(section) > 50 {
			return 0, 0, nil, false
		}
		section = append(section, n)
	}
	return f, u, section, true
}

// easTime is the date-time format of [MS-ASDTYPE] 2.3.
const easTime = "2006-01-02T15:04:05.000Z"

func formatAddresses(as []mime.Address) (full, display string) {
	var fulls, names []string
	for _, a := range as {
		if a.IsGroupStart() || a.IsGroupEnd() {
			continue
		}
		addr := a.Mailbox + "@" + a.Host
		name := mime.DecodeHeader(a.Name)
		if name == "" {
			fulls = append(fulls, addr)
			names = append(names, addr)
			continue
		}
		fulls = append(fulls, strconv.Quote(name)+" <"+addr+">")
		names = append(names, name)
	}
	return strings.Join(fulls, ", "), strings.Join(names, "; ")
}

func hasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

// headerOf reads the top-level header fields of raw.
func headerOf(raw []byte, m *store.Message) textproto.MIMEHeader {
	end := min(max(m.Root.BodyStart, 0), int64(len(raw)))
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(raw[:end:end], "\r\n"...)))).ReadMIMEHeader()
	return h
}

// importance reads Importance or X-Priority: 0 low, 1 normal, 2 high.
func importance(h textproto.MIMEHeader) string {
	switch strings.ToLower(strings.TrimSpace(h.Get("Importance"))) {
	case "high":
		return "2"
	case "low":
		return "0"
	}
	if p := strings.TrimSpace(h.Get("X-Priority")); p != "" {
		switch p[0] {
		case '1', '2':
			return "2"
		case '4', '5':
			return "0"
		}
	}
	return "1"
}

// conversationID is a stable 16-byte id of the thread: the first message of its
// References, else the one it replies to, else its own Message-ID.
func conversationID(env mime.Envelope, subject string) []byte {
	root := env.MessageID
	if len(env.References) > 0 {
		root = env.References[0]
	} else if ids := mime.ParseMessageIDs(env.InReplyTo); len(ids) > 0 {
		root = ids[0]
	}
	if root == "" {
		root = "subject:" + threadTopic(subject)
	}
	sum := md5.Sum([]byte(root))
	return sum[:]
}

// threadTopic removes reply and forward prefixes from a subject.
func threadTopic(s string) string {
	for {
		t := strings.TrimSpace(s)
		lower := strings.ToLower(t)
		cut := false
		for _, p := range []string{"re:", "fw:", "fwd:", "aw:", "wg:", "sv:", "vs:"} {
			if strings.HasPrefix(lower, p) {
				t, cut = t[len(p):], true
				break
			}
		}
		if !cut {
			return t
		}
		s = t
	}
}

func categoriesOf(m *store.Message) []string {
	var cats []string
	if v := m.Props[propCategories]; v != "" {
		_ = json.Unmarshal([]byte(v), &cats) // a corrupt value reads as no categories
	}
	return cats
}

// addFlag writes email:Flag ([MS-ASEMAIL] 2.2.2.34): empty when the message is not
// flagged.
func addFlag(parent *wbxml.Element, flags []string) {
	f := parent.Add(wbxml.NSEmail, "Flag")
	if hasFlag(flags, store.FlagFlagged) {
		f.AddText(wbxml.NSEmail, "Status", "2")
		f.AddText(wbxml.NSEmail, "FlagType", "Flag for follow up")
	}
}

func addCategories(parent *wbxml.Element, cats []string) {
	c := parent.Add(wbxml.NSEmail, "Categories")
	for _, x := range cats {
		c.AddText(wbxml.NSEmail, "Category", x)
	}
}

// addChangedFields writes what a Change carries: the fields a message can change
// after delivery.
func addChangedFields(parent *wbxml.Element, m *store.Message) {
	parent.AddText(wbxml.NSEmail, "Read", boolText(hasFlag(m.Flags, store.FlagSeen)))
	addFlag(parent, m.Flags)
	addCategories(parent, categoriesOf(m))
}

// renderEmail writes the fields of a whole message into parent.
func renderEmail(parent *wbxml.Element, m *store.Message, raw []byte, opts itemOptions, mimeAllowed bool, version int) {
	renderFixed(m, raw, opts, mimeAllowed, version).into(parent, m)
}

// fixedEmail is a message rendered without the fields that change after delivery
// (Read, Flag, Categories): what depends only on the message's bytes, its place and
// the options, so it can be rendered once for many devices (rendercache.go). Its
// elements are shared and must not be changed.
type fixedEmail struct {
	// beforeRead, beforeFlag and rest are the fields around Read and Flag, in the
	// order renderEmail writes them; Categories come last.
	beforeRead, beforeFlag, rest []*wbxml.Element
}

// into writes the message's fields into parent, with the changing ones as m has them.
func (f fixedEmail) into(parent *wbxml.Element, m *store.Message) {
	parent.Children = slices.Grow(parent.Children, len(f.beforeRead)+len(f.beforeFlag)+len(f.rest)+3)
	parent.Children = append(parent.Children, f.beforeRead...)
	parent.AddText(wbxml.NSEmail, "Read", boolText(hasFlag(m.Flags, store.FlagSeen)))
	parent.Children = append(parent.Children, f.beforeFlag...)
	addFlag(parent, m.Flags)
	parent.Children = append(parent.Children, f.rest...)
	addCategories(parent, categoriesOf(m))
}

// renderFixed renders what fixedEmail holds of m.
func renderFixed(m *store.Message, raw []byte, opts itemOptions, mimeAllowed bool, version int) fixedEmail {
	parent := &wbxml.Element{}
	var f fixedEmail
	env := m.Envelope
	subject := mime.DecodeHeader(env.Subject)
	h := headerOf(raw, m)
	to, displayTo := formatAddresses(env.To)
	add := func(name, v string) { parent.AddText(wbxml.NSEmail, name, cleanText(v)) }
	if to != "" {
		add("To", to)
	}
	if cc, _ := formatAddresses(env.Cc); cc != "" {
		add("Cc", cc)
	}
	if from, _ := formatAddresses(env.From); from != "" {
		add("From", from)
	}
	add("Subject", subject)
	if h.Get("Reply-To") != "" {
		if rt, _ := formatAddresses(env.ReplyTo); rt != "" {
			add("ReplyTo", rt)
		}
	}
	add("DateReceived", m.InternalDate.UTC().Format(easTime))
	add("DisplayTo", displayTo)
	add("ThreadTopic", threadTopic(subject))
	add("Importance", importance(h))
	f.beforeRead, parent.Children = parent.Children, nil

	b := findBodies(m, raw)
	if atts := b.attachments; len(atts) > 0 {
		ae := parent.Add(wbxml.NSAirSyncBase, "Attachments")
		for _, a := range atts {
			e := ae.Add(wbxml.NSAirSyncBase, "Attachment")
			e.AddText(wbxml.NSAirSyncBase, "DisplayName", cleanText(a.name))
			e.AddText(wbxml.NSAirSyncBase, "FileReference", fileReference(m.Folder, m.UID, a.section))
			e.AddText(wbxml.NSAirSyncBase, "Method", strconv.Itoa(a.method))
			e.AddText(wbxml.NSAirSyncBase, "EstimatedDataSize", strconv.FormatInt(a.size, 10))
			if a.contentID != "" {
				e.AddText(wbxml.NSAirSyncBase, "ContentId", cleanText(a.contentID))
			}
			if a.inline {
				e.AddText(wbxml.NSAirSyncBase, "IsInline", "1")
			}
		}
	}
	addBody(parent, b, raw, opts, mimeAllowed, version)
	add("MessageClass", "IPM.Note")
	add("InternetCPID", "65001")
	f.beforeFlag, parent.Children = parent.Children, nil

	add("ContentClass", "urn:content-classes:message")
	native := bodyPlain
	if b.html != nil {
		native = bodyHTML
	}
	parent.AddText(wbxml.NSAirSyncBase, "NativeBodyType", strconv.Itoa(native))
	if version >= 140 {
		parent.AddOpaque(wbxml.NSEmail2, "ConversationId", conversationID(env, subject))
	}
	f.rest = parent.Children
	return f
}

// addBody writes airsyncbase:Body ([MS-ASAIRS] 2.2.2.9) in the form opts prefer.
func addBody(parent *wbxml.Element, b bodies, raw []byte, opts itemOptions, mimeAllowed bool, version int) {
	pref := opts.choose(mimeAllowed)
	var data string
	switch pref.Type {
	case bodyMIME:
		// The message's own bytes, whatever their charset: only NUL, which a WBXML
		// string cannot hold, is dropped.
		data = strings.ReplaceAll(string(raw), "\x00", "")
	case bodyHTML:
		data = b.htmlText(raw)
	default:
		pref.Type = bodyPlain
		data = b.plainText(raw)
	}
	body := parent.Add(wbxml.NSAirSyncBase, "Body")
	body.AddText(wbxml.NSAirSyncBase, "Type", strconv.Itoa(pref.Type))
	body.AddText(wbxml.NSAirSyncBase, "EstimatedDataSize", strconv.Itoa(len(data)))
	out, truncated := data, false
	if pref.TruncationSize > 0 && int64(len(data)) > pref.TruncationSize {
		truncated = true
		out = clipText(data, int(pref.TruncationSize))
		if pref.AllOrNone {
			out = ""
		}
	}
	if truncated {
		body.AddText(wbxml.NSAirSyncBase, "Truncated", "1")
	}
	if !(truncated && pref.AllOrNone) {
		body.AddText(wbxml.NSAirSyncBase, "Data", out)
	}
	if pref.Preview > 0 && version >= 140 {
		preview := strings.Join(strings.Fields(b.plainText(raw)), " ")
		body.AddText(wbxml.NSAirSyncBase, "Preview", clipText(preview, min(pref.Preview, 255)))
	}
}

// attachment is one part a device sees as an attachment.
type attachment struct {
	section   []int
	name      string
	size      int64
	method    int // 1 normal, 5 embedded message
	contentID string
	inline    bool
	part      *mime.Part
}

// bodies are the parts of a message that make its body and its attachments.
type bodies struct {
	plain, html *mime.Part
	attachments []attachment
}

func findBodies(m *store.Message, raw []byte) bodies {
	var b bodies
	var walk func(p *mime.Part, section []int, depth int)
	walk = func(p *mime.Part, section []int, depth int) {
		if depth > mime.MaxDepth {
			return
		}
		if len(p.Parts) > 0 {
			for i := range p.Parts {
				walk(&p.Parts[i], append(section[:len(section):len(section)], i+1), depth+1)
			}
			return
		}
		name := p.DispositionParams["filename"]
		if name == "" {
			name = p.Params["name"]
		}
		name = mime.DecodeHeader(name)
		isText := p.Type == "text" && (p.Subtype == "plain" || p.Subtype == "html")
		if isText && p.Disposition != "attachment" && name == "" {
			if p.Subtype == "plain" && b.plain == nil {
				b.plain = p
				return
			}
			if p.Subtype == "html" && b.html == nil {
				b.html = p
				return
			}
		}
		a := attachment{section: section, name: name, method: 1, part: p}
		if p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global") {
			a.method = 5
			if a.name == "" && p.Message != nil {
				a.name = mime.DecodeHeader(p.Message.Envelope.Subject) + ".eml"
			}
		}
		if a.name == "" {
			a.name = fmt.Sprintf("attachment-%d.%s", len(b.attachments)+1, p.Subtype)
		}
		a.size = p.Size()
		if p.Encoding == "base64" {
			a.size = a.size * 3 / 4
		}
		a.contentID = strings.Trim(p.ID, "<> ")
		a.inline = p.Disposition == "inline" && a.contentID != ""
		b.attachments = append(b.attachments, a)
	}
	if len(m.Root.Parts) > 0 {
		walk(&m.Root, nil, 0)
	} else {
		walk(&m.Root, []int{1}, 0)
	}
	return b
}

func (b bodies) plainText(raw []byte) string {
	switch {
	case b.plain != nil:
		return partText(b.plain, raw)
	case b.html != nil:
		return htmlToText(partText(b.html, raw))
	}
	return ""
}

func (b bodies) htmlText(raw []byte) string {
	switch {
	case b.html != nil:
		return partText(b.html, raw)
	case b.plain != nil:
		return "<html><body><pre>" + html.EscapeString(partText(b.plain, raw)) + "</pre></body></html>"
	}
	return ""
}

// partText decodes a text part to UTF-8.
func partText(p *mime.Part, raw []byte) string {
	body, err := p.DecodedBody(raw)
	if err != nil {
		return ""
	}
	return cleanText(toUTF8(p.Params["charset"], body))
}

// cleanText makes s fit for a WBXML string: valid UTF-8 without NUL.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}

// toUTF8 reads b in the given charset. UTF-8, ASCII and the ISO-8859-1/windows-1252
// family are converted; other charsets are kept when they are valid UTF-8 and read as
// windows-1252 otherwise (the MIME form, type 4, always carries the original bytes).
func toUTF8(charset string, b []byte) string {
	cs := strings.ToLower(strings.Trim(charset, ` "'`))
	latin := cs == "iso-8859-1" || cs == "latin1" || cs == "windows-1252" || cs == "cp1252" || cs == "iso-8859-15"
	if !latin && utf8.Valid(b) {
		return string(b)
	}
	high := []rune(cp1252High)
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		switch {
		case c < 0x80:
			sb.WriteByte(c)
		case c < 0xA0:
			sb.WriteRune(high[c-0x80])
		default:
			sb.WriteRune(rune(c))
		}
	}
	return sb.String()
}

// cp1252High holds the characters of windows-1252 bytes 0x80–0x9F, in order;
// undefined bytes map to U+FFFD.
const cp1252High = "€\uFFFD‚ƒ„…†‡ˆ‰Š‹Œ\uFFFDŽ\uFFFD\uFFFD‘’“”•–—˜™š›œ\uFFFDžŸ"

var (
	htmlDrop  = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)\s*>`)
	htmlBreak = regexp.MustCompile(`(?i)<(br|/p|/div|/tr|/li|/h[1-6])\b[^>]*>`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// htmlToText gives the text of an HTML body for a device that asked for plain text.
func htmlToText(s string) string {
	s = htmlDrop.ReplaceAllString(s, "")
	s = htmlBreak.ReplaceAllString(s, "\n")
	s = htmlTag.ReplaceAllString(s, "")
	return strings.TrimSpace(html.UnescapeString(s))
}

// windowStart is the oldest internal date FilterType keeps ([MS-ASCMD] 2.2.3.73.2); zero
// means no limit.
func windowStart(filter int, now time.Time) time.Time {
	var days int
	switch filter {
	case 1:
		days = 1
	case 2:
		days = 3
	case 3:
		days = 7
	case 4:
		days = 14
	case 5:
		days = 31
	case 6:
		days = 92
	case 7:
		days = 183
	default:
		return time.Time{}
	}
	return now.AddDate(0, 0, -days)
}
