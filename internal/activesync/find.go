package activesync

// Find follows [MS-ASCMD] 2.2.1.2 (protocol 16.1): a search of the mailbox
// (MailBoxSearchCriterion: FreeText in a subset of KQL, airsync:Class, airsync:CollectionId,
// DeepTraversal, Range) or of the global address list (GALSearchCriterion). Mailbox
// results carry the summary of 2.2.3.139.1 (subject, sender, recipients, flags, a
// preview) and the ServerId and CollectionId that Sync and ItemOperations know, so the
// device fetches a whole message with ItemOperations; Find itself has no body
// preference ([MS-ASCMD] 6.7 gives its Options only Range, DeepTraversal and Picture).
// Contact pictures are not offered: a Picture request gets the entries without them.
//
// A Find is answered from a fresh search every time: a later page (Range m-n with m > 0)
// is the same search run again, so Status 4 (StartWithRangeZero) is never needed.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"mailroom/internal/mime"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// findStatus is find:Status ([MS-ASCMD] 2.2.3.177.2).
type findStatus int

const (
	findOK             findStatus = 1
	findInvalidRequest findStatus = 2
	findFolderSync     findStatus = 3
)

const (
	// defaultFindRange is the page a Find without Range gets.
	defaultFindRange = 100
	// maxFindIndex is the largest index a Range may name ([MS-ASCMD] 2.2.3.143.1: 0 ≤ m ≤
	// n ≤ 999).
	maxFindIndex = 999
	// previewChars bounds find:Preview ([MS-ASCMD] 2.2.3.137: at most 255 characters).
	previewChars = 255
	// maxFindTerms bounds the terms of one FreeText query.
	maxFindTerms = 20
)

func (s *Server) find(ctx context.Context, w http.ResponseWriter, r *request) error {
	if r.version < 161 {
		return &badRequestError{fmt.Errorf("the Find command needs protocol 16.1, the request uses %d.%d", r.version/10, r.version%10)}
	}
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	ns := wbxml.NSFind
	resp := wbxml.New(ns, "Find")
	top := resp.AddText(ns, "Status", text(findOK))
	fail := func(code findStatus) error {
		top.Text = text(code)
		return s.writeWBXML(w, resp)
	}
	exec := req.Child(ns, "ExecuteSearch")
	mailbox, gal := exec.Child(ns, "MailBoxSearchCriterion"), exec.Child(ns, "GalSearchCriterion")
	if (mailbox == nil) == (gal == nil) {
		return fail(findInvalidRequest) // exactly one criterion ([MS-ASCMD] 2.2.3.66)
	}
	crit := mailbox
	if crit == nil {
		crit = gal
	}
	lo, hi := 0, defaultFindRange-1
	if rng := crit.Child(ns, "Options").Child(ns, "Range"); rng != nil {
		var ok bool
		if lo, hi, ok = parseRange(rng.Text); !ok || hi > maxFindIndex {
			return fail(findInvalidRequest)
		}
	}
	// The Response children in the order of FindResponse.xsd ([MS-ASCMD] 6.8):
	// itemoperations:Store, Status, Result..., Range, Total.
	out := wbxml.New(ns, "Response")
	var code findStatus
	if mailbox != nil {
		out.AddText(wbxml.NSItemOperations, "Store", "Mailbox")
		code, err = s.findMailbox(ctx, r, mailbox, lo, hi, out)
	} else {
		out.AddText(wbxml.NSItemOperations, "Store", "GAL")
		code, err = s.findGAL(ctx, gal, lo, hi, out)
	}
	if err != nil {
		return err
	}
	if code != findOK {
		return fail(code)
	}
	resp.Children = append(resp.Children, out)
	return s.writeWBXML(w, resp)
}

// addFindStatus puts Response's Status after Store and closes the list with Range (when
// results were shown) and Total.
func addFindStatus(out *wbxml.Element, results []*wbxml.Element, lo, total int) {
	ns := wbxml.NSFind
	status := &wbxml.Element{Space: ns, Name: "Status", Text: text(findOK)}
	out.Children = slices.Insert(out.Children, 1, status)
	out.Children = append(out.Children, results...)
	if len(results) > 0 {
		out.AddText(ns, "Range", fmt.Sprintf("%d-%d", lo, lo+len(results)-1))
	}
	out.AddText(ns, "Total", strconv.Itoa(total))
}

func (s *Server) findMailbox(ctx context.Context, r *request, c *wbxml.Element, lo, hi int, out *wbxml.Element) (findStatus, error) {
	ns := wbxml.NSFind
	q := c.Child(ns, "Query")
	if q == nil {
		return findInvalidRequest, nil
	}
	if class := q.ChildText(wbxml.NSAirSync, "Class"); class != "" && class != "Email" {
		return findInvalidRequest, nil // Find searches e-mail only ([MS-ASEMAIL] 3.1.5.1)
	}
	crit, ok := parseKQL(q.ChildText(ns, "FreeText"))
	if !ok {
		return findInvalidRequest, nil
	}
	// A folder the device cannot know means its hierarchy is stale: Status 3.
	folders, found, err := s.mailFolders(ctx, r, q.ChildText(wbxml.NSAirSync, "CollectionId"),
		c.Child(ns, "Options").Child(ns, "DeepTraversal") != nil)
	if err != nil {
		return 0, err
	}
	if !found {
		return findFolderSync, nil
	}
	hits, err := s.mailboxHits(ctx, folders, crit)
	if err != nil {
		return 0, err
	}
	var results []*wbxml.Element
	for i := lo; i <= hi && i < len(hits); i++ {
		res, err := s.findResult(ctx, hits[i])
		if err != nil {
			return 0, err
		}
		if res != nil {
			results = append(results, res)
		}
	}
	addFindStatus(out, results, lo, len(hits))
	return findOK, nil
}

// findResult renders one mailbox match as a Result ([MS-ASCMD] 2.2.3.155.1 and
// 2.2.3.139.1); nil when the message went away since the search.
func (s *Server) findResult(ctx context.Context, h hit) (*wbxml.Element, error) {
	m, err := s.store.MessageByUID(ctx, h.folder, h.info.UID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find result: %w", err)
	}
	raw, err := s.store.Raw(ctx, m.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find result: %w", err)
	}
	ns := wbxml.NSFind
	res := wbxml.New(ns, "Result")
	res.AddText(wbxml.NSAirSync, "Class", "Email")
	res.AddText(wbxml.NSAirSync, "ServerId", itemServerID(h.folder, h.info.UID))
	res.AddText(wbxml.NSAirSync, "CollectionId", folderServerID(h.folder))
	p := res.Add(ns, "Properties")
	env := m.Envelope
	p.AddText(wbxml.NSEmail, "Subject", cleanText(mime.DecodeHeader(env.Subject)))
	p.AddText(wbxml.NSEmail, "DateReceived", m.InternalDate.UTC().Format(easTime))
	_, to := formatAddresses(env.To)
	p.AddText(wbxml.NSEmail, "DisplayTo", cleanText(to))
	if _, cc := formatAddresses(env.Cc); cc != "" {
		p.AddText(ns, "DisplayCc", cleanText(cc))
	}
	if _, bcc := formatAddresses(env.Bcc); bcc != "" {
		p.AddText(ns, "DisplayBcc", cleanText(bcc))
	}
	p.AddText(wbxml.NSEmail, "Importance", importance(headerOf(raw, &m)))
	p.AddText(wbxml.NSEmail, "Read", boolText(hasFlag(m.Flags, store.FlagSeen)))
	p.AddText(wbxml.NSEmail2, "IsDraft", boolText(hasFlag(m.Flags, store.FlagDraft)))
	b := findBodies(&m, raw)
	preview := strings.Join(strings.Fields(b.plainText(raw)), " ")
	p.AddText(ns, "Preview", clipText(preview, previewChars))
	p.AddText(ns, "HasAttachments", boolText(len(b.attachments) > 0))
	if from, _ := formatAddresses(env.From); from != "" {
		p.AddText(wbxml.NSEmail, "From", cleanText(from))
	}
	return res, nil
}

// findGAL answers a GALSearchCriterion with the entries ResolveRecipients and Search
// find, in the gal: properties [MS-ASCMD] 2.2.3.139.1 lists. The entries come from
// searchGAL, so all three commands see the directory alike.
func (s *Server) findGAL(ctx context.Context, c *wbxml.Element, lo, hi int, out *wbxml.Element) (findStatus, error) {
	query := strings.TrimSpace(c.ChildText(wbxml.NSFind, "Query"))
	if query == "" {
		return findInvalidRequest, nil
	}
	st := wbxml.New(wbxml.NSSearch, "Store")
	st.AddText(wbxml.NSSearch, "Query", query)
	found := wbxml.New(wbxml.NSSearch, "Store")
	if _, err := s.searchGAL(ctx, st, lo, hi, found); err != nil {
		return 0, err
	}
	total, _ := strconv.Atoi(found.ChildText(wbxml.NSSearch, "Total"))
	var results []*wbxml.Element
	for _, sr := range found.All(wbxml.NSSearch, "Result") {
		res := wbxml.New(wbxml.NSFind, "Result")
		p := res.Add(wbxml.NSFind, "Properties")
		p.Children = sr.Child(wbxml.NSSearch, "Properties").Children
		results = append(results, res)
	}
	addFindStatus(out, results, lo, total)
	return findOK, nil
}

// parseKQL reads the part of the Keyword Query Language a device's search box produces
// ([MS-ASCMD] 2.2.1.2 and 2.2.3.80.1): words and "quoted phrases", each optionally
// restricted to a property (subject:, from:, to:, cc:, bcc:, body:). All terms must
// match; AND between terms is accepted and ignored. It reports false for an empty query
// or one of more than maxFindTerms terms.
func parseKQL(q string) (*store.Criteria, bool) {
	terms, ok := kqlTerms(q)
	if !ok || len(terms) == 0 || len(terms) > maxFindTerms {
		return nil, false
	}
	crit := &store.Criteria{}
	for _, t := range terms {
		one := &store.Criteria{}
		switch t.prop {
		case "subject":
			one.Subject = t.value
		case "from":
			one.From = t.value
		case "to":
			one.To = t.value
		case "cc":
			one.Cc = t.value
		case "bcc":
			one.Bcc = t.value
		case "body":
			one.Body = t.value
		default:
			one.Text = t.value
		}
		// Criteria's fields are ANDed but hold one value each; a further term of the
		// same kind joins as NOT(NOT term).
		if crit.Text == "" && one.Text != "" {
			crit.Text = one.Text
			continue
		}
		crit.Not = append(crit.Not, &store.Criteria{Not: []*store.Criteria{one}})
	}
	return crit, true
}

// kqlTerm is one search term: a property ("" for anywhere) and the text to find.
type kqlTerm struct{ prop, value string }

// kqlTerms splits q into terms. A quote opens a phrase that runs to the next quote; an
// unclosed quote makes the query invalid.
func kqlTerms(q string) ([]kqlTerm, bool) {
	var terms []kqlTerm
	rest := strings.TrimSpace(q)
	for rest != "" {
		var word string
		var quoted bool
		prop := ""
		if i := strings.IndexAny(rest, ": \t\""); i > 0 && rest[i] == ':' {
			switch p := strings.ToLower(rest[:i]); p {
			case "subject", "from", "to", "cc", "bcc", "body":
				prop, rest = p, rest[i+1:]
			}
		}
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, false
			}
			word, rest, quoted = rest[1:1+end], rest[2+end:], true
		} else {
			end := strings.IndexAny(rest, " \t")
			if end < 0 {
				end = len(rest)
			}
			word, rest = rest[:end], rest[end:]
		}
		rest = strings.TrimSpace(rest)
		word = strings.TrimSpace(word)
		if word == "" || (!quoted && prop == "" && word == "AND") {
			continue
		}
		terms = append(terms, kqlTerm{prop, word})
	}
	return terms, true
}
