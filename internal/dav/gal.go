package dav

// The global address list as a read-only CardDAV address book: one vCard 3.0 (RFC
// 2426) per user, shared mailbox and group of the directory. It is rendered from the
// directory on demand and kept for a short while; its sync-token is a hash of the
// whole list, so a client whose token is stale lists it afresh.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"slices"
	"strings"
	"sync"
	"time"

	"mailroom/internal/pim"
)

// galTTL is how long a rendered GAL is reused.
const galTTL = 30 * time.Second

// galCache keeps the last rendered GAL.
type galCache struct {
	mu    sync.Mutex
	at    time.Time
	cards []*resource
	token string
}

// galResources returns the GAL's vCards, by name.
func (q *request) galResources() ([]*resource, error) {
	cards, _, err := q.h.gal.get(q.r.Context(), q.h.cfg.GAL)
	return cards, err
}

func (g *galCache) get(ctx context.Context, src GAL) ([]*resource, string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.at.IsZero() && time.Since(g.at) < galTTL {
		return g.cards, g.token, nil
	}
	entries, err := src.GAL(ctx)
	if err != nil {
		return nil, "", err
	}
	cards := make([]*resource, 0, len(entries))
	sum := sha256.New()
	for _, e := range entries {
		data := []byte(galCard(e))
		name := e.ID + ".vcf"
		res := &resource{name: name, etag: pim.ETag(data), ctype: "text/vcard; charset=utf-8", size: int64(len(data)),
			data: func() ([]byte, error) { return data, nil }}
		cards = append(cards, res)
	}
	slices.SortFunc(cards, func(a, b *resource) int { return strings.Compare(a.name, b.name) })
	for _, c := range cards {
		sum.Write([]byte(c.name + c.etag))
	}
	g.cards, g.token, g.at = cards, "urn:mailroom:gal:"+hex.EncodeToString(sum.Sum(nil)[:16]), time.Now()
	return g.cards, g.token, nil
}

// vText escapes a vCard text value (RFC 2426 4, RFC 6350 3.4).
func vText(s string) string {
	return strings.NewReplacer(`\`, `\\`, ",", `\,`, ";", `\;`, "\r\n", `\n`, "\n", `\n`, "\r", "").Replace(s)
}

// galCard renders one entry.
func galCard(e GALEntry) string {
	var b strings.Builder
	line := func(s string) { b.WriteString(s + "\r\n") }
	line("BEGIN:VCARD")
	line("VERSION:3.0")
	line("UID:" + vText(e.ID))
	name := e.DisplayName
	if name == "" {
		name = e.Email
	}
	line("FN:" + vText(name))
	line("N:" + vText(e.Surname) + ";" + vText(e.GivenName) + ";;;")
	if e.Email != "" {
		line("EMAIL;TYPE=INTERNET,WORK:" + vText(e.Email))
	}
	if e.Title != "" {
		line("TITLE:" + vText(e.Title))
	}
	if e.Department != "" {
		line("ORG:;" + vText(e.Department))
	}
	if e.Phone != "" {
		line("TEL;TYPE=WORK,VOICE:" + vText(e.Phone))
	}
	if e.Kind == "group" {
		// Apple's group vCard extension, which Contacts and DAVx5 read.
		line("X-ADDRESSBOOKSERVER-KIND:group")
		for _, m := range e.Members {
			line("X-ADDRESSBOOKSERVER-MEMBER:mailto:" + vText(m))
		}
	}
	if e.Kind == "shared" {
		line("CATEGORIES:Shared mailbox")
	}
	line("END:VCARD")
	return b.String()
}

// galProps renders the GAL collection's properties.
func (q *request) galProps() (propSource, error) {
	_, token, err := q.h.gal.get(q.r.Context(), q.h.cfg.GAL)
	if err != nil {
		return nil, err
	}
	return func(name xml.Name) (string, bool) {
		switch name {
		case dav("resourcetype"):
			return elem(dav("collection"), "") + elem(carddav("addressbook"), ""), true
		case dav("displayname"):
			return "Global Address List", true
		case carddav("addressbook-description"):
			return "Everyone in the directory: users, shared mailboxes and groups", true
		case xml.Name{Space: nsCS, Local: "getctag"}, dav("sync-token"):
			return escape(token), true
		case dav("current-user-privilege-set"):
			return privileges(false), true
		case dav("supported-report-set"):
			return supportedReports(carddav("addressbook-query"), carddav("addressbook-multiget"), dav("sync-collection")), true
		case carddav("supported-address-data"):
			return `<card:address-data-type content-type="text/vcard" version="3.0"/>`, true
		}
		return q.commonProps(name)
	}, nil
}

// galSync answers sync-collection on the GAL: everything for a new or stale token,
// nothing for the current one.
func (q *request) galSync(root *node, pr propRequest) (*multistatus, error) {
	cards, token, err := q.h.gal.get(q.r.Context(), q.h.cfg.GAL)
	if err != nil {
		return nil, err
	}
	ms := &multistatus{syncToken: token}
	switch tok := strings.TrimSpace(root.child(nsDAV, "sync-token").textOr("")); tok {
	case token:
		return ms, nil
	case "":
	default:
		return nil, invalidToken()
	}
	for _, c := range cards {
		ms.responses = append(ms.responses, pr.respond(resourceHref(spaceAddressbooks, q.user.Address, galName, c.name), targetResource, c.props))
	}
	return ms, nil
}
