package dav

// sync-collection (RFC 6578): what changed in a collection since a sync-token, from the
// store's change log. A token is the collection's highest ModSeq. A member replaced
// (PUT over it) or deleted through DAV leaves a successor under the same name in the
// same change (pim.Tombstone for a deletion), so its name can be reported; a member
// removed some other way (moved or expunged by another protocol) has no name left to
// report, and the token is then refused with DAV:valid-sync-token so that the client
// lists the collection afresh (RFC 6578 3.2).

import (
	"net/http"
	"strconv"
	"strings"

	"mailroom/internal/pim"
	"mailroom/internal/store"
)

// changesPage is how many change-log entries one read of the log takes.
const changesPage = 2000

// parseSyncToken reads a token of folder; ok is false for any other token.
func parseSyncToken(tok string, folder store.FolderID) (store.ModSeq, bool) {
	rest, ok := strings.CutPrefix(tok, "urn:mailroom:sync:")
	if !ok {
		return 0, false
	}
	f, m, ok := strings.Cut(rest, ":")
	if !ok || f != strconv.FormatInt(int64(folder), 10) {
		return 0, false
	}
	v, err := strconv.ParseInt(m, 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return store.ModSeq(v), true
}

func invalidToken() error {
	return errCondition(http.StatusForbidden, dav("valid-sync-token"), "the sync-token is not valid (any more); sync the collection afresh")
}

func (q *request) syncCollection(c collection, root *node, pr propRequest) (*multistatus, error) {
	if c.gal {
		return q.galSync(root, pr)
	}
	ctx := q.r.Context()
	st := q.h.cfg.Store
	f, err := st.Folder(ctx, c.folder.ID)
	if err != nil {
		return nil, err
	}
	tok := strings.TrimSpace(root.child(nsDAV, "sync-token").textOr(""))
	x, err := q.h.index.get(ctx, st, f)
	if err != nil {
		return nil, err
	}
	ms := &multistatus{syncToken: syncToken(f.ID, f.HighestModSeq)}
	href := func(name string) string { return resourceHref(c.space, q.user.Address, c.name, name) }
	if tok == "" {
		// The initial sync: every member (RFC 6578 3.8).
		rs, err := q.resources(c)
		if err != nil {
			return nil, err
		}
		for _, res := range rs {
			ms.responses = append(ms.responses, pr.respond(href(res.name), targetResource, res.props))
		}
		return ms, nil
	}
	since, ok := parseSyncToken(tok, f.ID)
	if !ok || since > f.HighestModSeq {
		return nil, invalidToken()
	}
	touched, err := q.changedSince(f, since)
	if err != nil {
		return nil, err
	}
	for _, id := range touched {
		m := x.byID[id]
		switch {
		case m == nil || m.name == "":
		case m.live():
			ms.responses = append(ms.responses, pr.respond(href(m.name), targetResource, q.storedResource(m).props))
		case m.kind == pim.KindTombstone:
			ms.responses = append(ms.responses, response{href: href(m.name), status: http.StatusNotFound})
		}
	}
	return ms, nil
}

// changedSince returns the items of folder f added or changed after since, in log
// order, or invalidToken when a member the client may know went without a successor.
func (q *request) changedSince(f store.Folder, since store.ModSeq) ([]store.MessageID, error) {
	type removal struct {
		id     store.MessageID
		modseq store.ModSeq
	}
	added := map[store.MessageID]bool{}
	addsAt := map[store.ModSeq]int{}
	var removals []removal
	var touched []store.MessageID
	seen := map[store.MessageID]bool{}
	for from := since; ; {
		chs, _, err := q.h.cfg.Store.Changes(q.r.Context(), f.Account, from, changesPage)
		if err != nil {
			return nil, err
		}
		for _, ch := range chs {
			if ch.Folder != f.ID {
				continue
			}
			switch ch.Kind {
			case store.ChangeAdded:
				added[ch.Message] = true
				addsAt[ch.ModSeq]++
			case store.ChangeExpunged:
				removals = append(removals, removal{ch.Message, ch.ModSeq})
				continue
			case store.ChangeFlags, store.ChangeProps:
			case store.ChangeFolderDeleted:
				return nil, invalidToken()
			default:
				continue
			}
			if !seen[ch.Message] {
				seen[ch.Message] = true
				touched = append(touched, ch.Message)
			}
		}
		if len(chs) < changesPage {
			break
		}
		from = chs[len(chs)-1].ModSeq
	}
	for _, r := range removals {
		if added[r.id] {
			continue // came and went after the token: the client never saw it
		}
		if addsAt[r.modseq] == 0 {
			return nil, invalidToken()
		}
		addsAt[r.modseq]--
	}
	return touched, nil
}
