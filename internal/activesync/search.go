package activesync

// Search follows [MS-ASCMD] 2.2.1.16 for the Mailbox store (FreeText, CollectionId,
// DeepTraversal, DateReceived bounds, Range) and the GAL store (the directory's users
// by name or address prefix). Results name messages by LongId, which ItemOperations,
// SmartReply and SmartForward accept.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

const (
	defaultSearchRange = 100
	maxSearchResults   = 1000
)

func (s *Server) search(ctx context.Context, w http.ResponseWriter, r *request) error {
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	ns := wbxml.NSSearch
	resp := wbxml.New(ns, "Search")
	top := resp.AddText(ns, "Status", text(searchOK))
	st := req.Child(ns, "Store")
	out := resp.Add(ns, "Response").Add(ns, "Store")
	lo, hi := 0, defaultSearchRange-1
	if rng := st.Child(ns, "Options").ChildText(ns, "Range"); rng != "" {
		var ok bool
		if lo, hi, ok = parseRange(rng); !ok {
			top.Text = text(searchInvalidRequest)
			return s.writeWBXML(w, resp)
		}
		hi = min(hi, lo+maxSearchResults-1)
	}
	status := out.AddText(ns, "Status", "")
	var code searchStatus
	switch strings.ToLower(st.ChildText(ns, "Name")) {
	case "mailbox":
		code, err = s.searchMailbox(ctx, r, st, lo, hi, out)
	case "gal":
		code, err = s.searchGAL(ctx, st, lo, hi, out)
	default:
		code = searchInvalidRequest
	}
	if err != nil {
		return err
	}
	status.Text = text(code)
	return s.writeWBXML(w, resp)
}

// writeRange closes a result list: Range and Total, or status 12 past the end.
func writeRange(out *wbxml.Element, lo, shown, total int) searchStatus {
	if total > 0 && lo >= total {
		return searchEndOfRange
	}
	if shown > 0 {
		out.AddText(wbxml.NSSearch, "Range", fmt.Sprintf("%d-%d", lo, lo+shown-1))
	}
	out.AddText(wbxml.NSSearch, "Total", strconv.Itoa(total))
	return searchOK
}

// hit is one message a Mailbox search found.
type hit struct {
	folder store.FolderID
	info   store.MessageInfo
}

func (s *Server) searchMailbox(ctx context.Context, r *request, st *wbxml.Element, lo, hi int, out *wbxml.Element) (searchStatus, error) {
	ns := wbxml.NSSearch
	q := st.Child(ns, "Query")
	and := q.Child(ns, "And")
	if and == nil {
		and = q
	}
	var crit store.Criteria
	crit.Text = strings.TrimSpace(and.ChildText(ns, "FreeText"))
	for _, b := range []struct {
		name string
		set  *time.Time
	}{{"GreaterThan", &crit.Since}, {"LessThan", &crit.Before}} {
		if e := and.Child(ns, b.name); e != nil {
			t, err := time.Parse(easTime, e.ChildText(ns, "Value"))
			if err != nil {
				return searchInvalidRequest, nil
			}
			*b.set = t
		}
	}
	if crit.Text == "" && crit.Since.IsZero() && crit.Before.IsZero() {
		return searchInvalidRequest, nil
	}
	deep := st.Child(ns, "Options").Child(ns, "DeepTraversal") != nil
	folders, found, err := s.mailFolders(ctx, r, and.ChildText(wbxml.NSAirSync, "CollectionId"), deep)
	if err != nil || !found {
		return searchNotFound, err
	}
	hits, err := s.mailboxHits(ctx, folders, &crit)
	if err != nil {
		return 0, err
	}
	opts := parseOptions(st.Child(ns, "Options"))
	shown := 0
	for i := lo; i <= hi && i < len(hits); i++ {
		h := hits[i]
		m, err := s.store.MessageByUID(ctx, h.folder, h.info.UID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("search result: %w", err)
		}
		raw, err := s.store.Raw(ctx, m.ID)
		if err != nil {
			return 0, fmt.Errorf("search result: %w", err)
		}
		res := out.Add(ns, "Result")
		res.AddText(wbxml.NSAirSync, "Class", "Email")
		res.AddText(ns, "LongId", itemServerID(h.folder, h.info.UID))
		res.AddText(wbxml.NSAirSync, "CollectionId", folderServerID(h.folder))
		renderEmail(res.Add(ns, "Properties"), &m, raw, opts, opts.MIMESupport == 2, r.version)
		shown++
	}
	return writeRange(out, lo, shown, len(hits)), nil
}

// mailFolders picks the mail folders a search covers: the one the device named and,
// with deep, its subfolders; without a CollectionId, every mail folder the device
// syncs ([MS-ASCMD] 2.2.3.41.1). found is false for a folder the device cannot know
// (its hierarchy is stale) or that holds no mail.
func (s *Server) mailFolders(ctx context.Context, r *request, coll string, deep bool) (folders []store.Folder, found bool, err error) {
	all, err := s.store.Folders(ctx, r.account())
	if err != nil {
		return nil, false, fmt.Errorf("folders: %w", err)
	}
	if coll == "" {
		for _, f := range all {
			if classOf(f.Role) == ClassEmail && r.profile.Classes.Has(ClassEmail) {
				folders = append(folders, f)
			}
		}
		return folders, true, nil
	}
	f, ok, err := s.ownFolder(ctx, r, coll)
	if err != nil || !ok || classOf(f.Role) != ClassEmail {
		return nil, false, err
	}
	for _, g := range all {
		if g.ID == f.ID || (deep && len(g.Path) > len(f.Path) && slices.Equal(g.Path[:len(f.Path)], f.Path)) {
			folders = append(folders, g)
		}
	}
	return folders, true, nil
}

// mailboxHits runs crit in each folder and returns the matches, newest first.
func (s *Server) mailboxHits(ctx context.Context, folders []store.Folder, crit *store.Criteria) ([]hit, error) {
	var hits []hit
	for _, f := range folders {
		uids, err := s.store.Search(ctx, f.ID, crit)
		if err != nil {
			return nil, fmt.Errorf("search folder %d: %w", f.ID, err)
		}
		if len(uids) == 0 {
			continue
		}
		infos, err := s.store.Infos(ctx, f.ID, uids)
		if err != nil {
			return nil, fmt.Errorf("search folder %d: %w", f.ID, err)
		}
		for _, m := range infos {
			hits = append(hits, hit{f.ID, m})
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return b.info.InternalDate.Compare(a.info.InternalDate) })
	return hits, nil
}

// galMatches returns the directory entries whose name or address starts with query,
// or has a word that does, sorted by display name.
func (s *Server) galMatches(ctx context.Context, query string) ([]directory.User, error) {
	q := strings.ToLower(strings.TrimSpace(query))
	if q == "" {
		return nil, nil
	}
	users, err := s.dir.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("address list: %w", err)
	}
	var out []directory.User
	for _, u := range users {
		if !u.Enabled {
			continue
		}
		fields := append(strings.Fields(strings.ToLower(u.DisplayName)),
			strings.ToLower(u.DisplayName), strings.ToLower(u.GivenName), strings.ToLower(u.Surname), strings.ToLower(u.Address))
		for _, a := range u.Aliases {
			fields = append(fields, strings.ToLower(a))
		}
		if slices.ContainsFunc(fields, func(f string) bool { return f != "" && strings.HasPrefix(f, q) }) {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b directory.User) int { return strings.Compare(a.DisplayName, b.DisplayName) })
	return out, nil
}

func (s *Server) searchGAL(ctx context.Context, st *wbxml.Element, lo, hi int, out *wbxml.Element) (searchStatus, error) {
	matches, err := s.galMatches(ctx, st.ChildText(wbxml.NSSearch, "Query"))
	if err != nil {
		return 0, err
	}
	shown := 0
	for i := lo; i <= hi && i < len(matches); i++ {
		u := matches[i]
		p := out.Add(wbxml.NSSearch, "Result").Add(wbxml.NSSearch, "Properties")
		add := func(name, v string) {
			if v != "" {
				p.AddText(wbxml.NSGAL, name, cleanText(v))
			}
		}
		add("DisplayName", u.DisplayName)
		add("Phone", u.Phone)
		add("Title", u.Title)
		add("Office", u.Department)
		add("Alias", u.SAM)
		add("FirstName", u.GivenName)
		add("LastName", u.Surname)
		add("EmailAddress", u.Address)
		shown++
	}
	return writeRange(out, lo, shown, len(matches)), nil
}
