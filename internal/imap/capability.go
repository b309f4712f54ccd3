package imap

// CAPABILITY (RFC 9051 section 6.1.1), ID (RFC 2971) and ENABLE (RFC 5161).

import (
	"strconv"
	"strings"

	"mailroom/internal/imap/imapwire"
)

// capabilities lists what the server offers in the session's state. Both IMAP4rev1
// and IMAP4rev2 are offered; the session behaves as rev1 until the client enables
// rev2 (RFC 9051 appendix E). Before TLS on the plain port, logins are refused:
// STARTTLS and LOGINDISABLED, and no AUTH= (RFC 9051 section 6.2.3).
func (c *session) capabilities() []string {
	caps := []string{"IMAP4rev1", "IMAP4rev2"}
	if !c.tls {
		if c.srv.cfg.TLS != nil {
			caps = append(caps, "STARTTLS")
		}
		caps = append(caps, "LOGINDISABLED")
	} else if c.state == stateNotAuthenticated {
		for _, m := range c.mechanisms() {
			caps = append(caps, "AUTH="+m)
		}
	}
	caps = append(caps,
		"SASL-IR",     // RFC 4959
		"LITERAL+",    // RFC 7888
		"ID",          // RFC 2971
		"ENABLE",      // RFC 5161
		"IDLE",        // RFC 2177
		"NAMESPACE",   // RFC 2342
		"UNSELECT",    // RFC 3691
		"UIDPLUS",     // RFC 4315
		"MOVE",        // RFC 6851
		"CONDSTORE",   // RFC 7162
		"QRESYNC",     // RFC 7162
		"SPECIAL-USE", // RFC 6154
		"CREATE-SPECIAL-USE",
		"LIST-EXTENDED", // RFC 5258
		"LIST-STATUS",   // RFC 5819
		"ESEARCH",       // RFC 4731
		"SEARCHRES",     // RFC 5182
		"SORT",          // RFC 5256
		"THREAD=REFERENCES",
		"THREAD=ORDEREDSUBJECT",
		"BINARY",      // RFC 3516
		"STATUS=SIZE", // RFC 8438
		"QUOTA",       // RFC 9208
		"QUOTA=RES-STORAGE",
		"APPENDLIMIT="+strconv.FormatInt(c.srv.cfg.AppendLimit, 10), // RFC 7889
	)
	if c.aclEnabled() {
		// RFC 4314 section 2.1: RIGHTS= names the rights beyond RFC 2086's.
		caps = append(caps, "ACL", "RIGHTS=texk")
	}
	if c.fw == nil {
		caps = append(caps, "COMPRESS=DEFLATE") // RFC 4978
	}
	return caps
}

// idFieldMax bounds what is logged of the client's ID parameters.
const idFieldMax = 64

// cmdID logs who the client says it is and answers with the server's name
// (RFC 2971 section 3.1).
func (c *session) cmdID(a *imapwire.ID) error {
	var attrs []any
	for i, p := range a.Params {
		if i == 30 { // RFC 2971 section 3.3 allows at most 30 pairs
			break
		}
		attrs = append(attrs, clip(strings.ToLower(p.Field), idFieldMax), clip(p.Value, idFieldMax))
	}
	if len(attrs) > 0 {
		c.log.Info("client ID", attrs...)
	}
	c.w.Untagged().Atom("ID ").Strings([]string{"name", "Mailroom", "vendor", "Mailroom"}).CRLF()
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// cmdEnable turns on the extensions the client asks for and names those that are
// now on (RFC 5161 section 3.1); unknown ones are ignored.
func (c *session) cmdEnable(a *imapwire.Enable) error {
	var enabled []string
	for _, capa := range a.Capabilities {
		switch capa {
		case "CONDSTORE":
			c.condstore = true
		case "QRESYNC":
			// RFC 7162 section 3.2.3: QRESYNC implies CONDSTORE.
			c.qresync, c.condstore = true, true
		case "IMAP4REV2":
			// RFC 9051 appendix E: UTF-8 mailbox names and the rev2 responses.
			c.rev2 = true
			c.setUTF8()
			capa = "IMAP4rev2"
		case "UTF8=ACCEPT":
			// RFC 6855 section 3: mailbox names in UTF-8.
			c.setUTF8()
		default:
			continue
		}
		enabled = append(enabled, capa)
	}
	c.w.Untagged().Atom("ENABLED")
	for _, e := range enabled {
		c.w.SP().Atom(e)
	}
	c.w.CRLF()
	return nil
}

func (c *session) setUTF8() {
	c.utf8 = true
	c.r.SetUTF8(true)
	c.w.SetUTF8(true)
}
