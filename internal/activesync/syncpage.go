package activesync

// A collection's first sync ([MS-ASCMD] 2.2.3.177.17: SyncKey 0, then MoreAvailable
// until the device holds the folder) pages the folder downward by UID instead of
// comparing the whole folder on every round trip, which would make the first sync of
// a big folder quadratic. The state records the page boundary (syncState.below); what
// changes meanwhile comes from the change log, like any later Sync.

import (
	"context"
	"fmt"
	"slices"

	"mailroom/internal/store"
)

// firstState is the state SyncKey 0 records. Without a FilterType the folder is then
// paged: the change log position is read before the folder's next UID, so a message
// that arrives in between is seen twice (and sent once), never missed. A filtered
// collection is compared in full on every round trip instead: mail ages out of its
// window without any change in the log.
func (s *Server) firstState(ctx context.Context, acct store.AccountID, folder store.FolderID, filter int) (syncState, error) {
	st := syncState{backlog: true}
	if filter != 0 {
		return st, nil
	}
	_, newest, err := s.store.Changes(ctx, acct, 1<<62, 1)
	if err != nil {
		return syncState{}, fmt.Errorf("changes: %w", err)
	}
	f, err := s.store.Folder(ctx, folder)
	if err != nil {
		return syncState{}, fmt.Errorf("folder %d: %w", folder, err)
	}
	st.modseq, st.below = newest, max(f.UIDNext, 1)
	return st, nil
}

// pageFolder is diffFolder for a collection being paged: it looks only at the messages
// of folder the change log names (changes, read after the state's modseq) and at the
// next messages below below, newest UID first, within window. It returns the new page
// boundary (0 once the folder is exhausted) and false when the log holds more for
// this folder than one window, for the caller to compare the folder in full instead.
func (s *Server) pageFolder(ctx context.Context, folder store.FolderID, held heldItems, changes []store.Change,
	below store.UID, window int) (diff, store.UID, bool, error) {
	var touched []store.UID
	for _, ch := range changes {
		if ch.Folder == folder && ch.UID != 0 {
			touched = append(touched, ch.UID)
		}
	}
	slices.Sort(touched)
	touched = slices.Compact(touched)
	if len(touched) > window {
		return diff{}, 0, false, nil
	}
	page, more, err := s.pageBelow(ctx, folder, held, below, window-len(touched))
	if err != nil {
		return diff{}, 0, false, err
	}
	switch {
	case more && len(page) > 0:
		below = page[len(page)-1]
	case !more:
		below = 0
	}
	look := append(slices.Clone(touched), page...)
	slices.Sort(look)
	infos, err := s.store.Infos(ctx, folder, slices.Compact(look))
	if err != nil {
		return diff{}, 0, false, fmt.Errorf("messages of folder %d: %w", folder, err)
	}
	var d diff
	present := make(map[store.UID]bool, len(infos))
	for _, m := range infos {
		present[m.UID] = true
		switch seen, has := held[m.UID]; {
		case !has:
			d.adds = append(d.adds, m)
		case m.ModSeq > seen:
			d.changes = append(d.changes, m)
		}
	}
	for _, u := range touched {
		if _, has := held[u]; has && !present[u] {
			d.deletes = append(d.deletes, u)
		}
	}
	// Newest first, as diffFolder sends additions: by UID, the order of arrival.
	slices.Reverse(d.adds)
	d.pending = len(d.deletes) + len(d.changes) + len(d.adds)
	d.more = more
	return d, below, true, nil
}

// pageBelow returns up to room UIDs of folder below below that the device does not
// hold, highest first, and whether more remain. It searches UID ranges that double in
// width, so a dense folder costs one small query per page.
func (s *Server) pageBelow(ctx context.Context, folder store.FolderID, held heldItems, below store.UID, room int) ([]store.UID, bool, error) {
	var page []store.UID
	span := store.UID(2*room + 1)
	for hi := below - 1; hi >= 1; {
		lo := store.UID(1)
		if hi > span {
			lo = hi - span + 1
		}
		uids, err := s.store.Search(ctx, folder, &store.Criteria{UIDs: []store.UIDRange{{First: lo, Last: hi}}})
		if err != nil {
			return nil, false, fmt.Errorf("page folder %d: %w", folder, err)
		}
		for i := len(uids) - 1; i >= 0; i-- {
			if _, has := held[uids[i]]; has {
				continue
			}
			if len(page) == room {
				return page, true, nil
			}
			page = append(page, uids[i])
		}
		hi, span = lo-1, span*2
	}
	return page, false, nil
}
