package imap

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"mailroom/internal/store"
)

// changeSource is what a view needs from the store.
type changeSource interface {
	FolderIndex(ctx context.Context, folder store.FolderID) (store.FolderIndex, error)
	Infos(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.MessageInfo, error)
	Changes(ctx context.Context, id store.AccountID, since store.ModSeq, limit int) ([]store.Change, store.ModSeq, error)
	Account(ctx context.Context, id store.AccountID) (store.Account, error)
}

// view is one session's picture of its selected folder: the message sequence numbers the
// client knows (RFC 9051 2.3.1.2) and how far into the account's change log it has been
// brought. Every other session's change, whatever protocol made it, reaches the client
// through sync, which turns the change log into EXPUNGE/VANISHED, EXISTS and FETCH.
type view struct {
	account store.AccountID
	folder  store.FolderID
	uids    uidRuns // sequence number n is the n-th UID, as runs of consecutive UIDs
	modseq  store.ModSeq
	// expunged holds UIDs the log says are gone but that could not be announced yet:
	// RFC 9051 7.5.1 forbids EXPUNGE while answering FETCH, STORE or SEARCH, since the
	// client's sequence numbers would shift under it.
	expunged []store.UID
	// keywords are the keywords the client has been told of in FLAGS: those of the
	// folder's messages at SELECT and any seen since, sorted.
	keywords []string
	// firstUnseen is the sequence number of the first message without \Seen when the
	// view was opened, 0 if none: SELECT's [UNSEEN n] for IMAP4rev1 clients.
	firstUnseen uint32
}

// update is what one sync tells the client.
type update struct {
	// Expunged are the sequence numbers to announce, in order: each EXPUNGE renumbers the
	// messages after it at once, so each number is relative to the state after the
	// previous ones (RFC 9051 7.5.1).
	Expunged []uint32
	// Vanished are the same messages by UID, for clients that enabled QRESYNC
	// (RFC 7162 3.2.10), which get VANISHED instead of EXPUNGE.
	Vanished []store.UID
	// Exists is the new message count when it changed, else -1.
	Exists int
	// Changed are messages whose flags (or other FETCH-visible data) changed, with their
	// sequence numbers as they are after the expunges above.
	Changed []changedMessage
}

type changedMessage struct {
	Seq  uint32
	Info store.MessageInfo
}

// open builds a view of folder as it is now, from the folder's index: its UIDs as
// runs, first unseen UID and keywords, never its messages' rows.
func openView(ctx context.Context, src changeSource, account store.AccountID, folder store.FolderID) (*view, error) {
	// The ModSeq is read before the index: a change in between is then both in the
	// index and in the next sync, and sync tolerates seeing it twice; the other order
	// could miss it.
	acct, err := src.Account(ctx, account)
	if err != nil {
		return nil, err
	}
	fi, err := src.FolderIndex(ctx, folder)
	if err != nil {
		return nil, err
	}
	v := &view{account: account, folder: folder, modseq: acct.ModSeq, keywords: fi.Keywords}
	v.uids.runs = make([]uidRun, 0, len(fi.UIDs))
	for _, r := range fi.UIDs {
		v.uids.addRun(r.First, r.Last)
	}
	// 0 when there is no unseen message, or when the first one was not yet in the
	// index's UIDs or no longer (read apart from them): no [UNSEEN n] then.
	v.firstUnseen = v.seq(fi.FirstUnseen)
	return v, nil
}

// addKeywords adds to the sorted list kws the keywords among flags (every flag that
// is not a system flag, RFC 9051 section 2.3.2) it does not hold yet.
func addKeywords(kws, flags []string) []string {
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			continue
		}
		if i, found := slices.BinarySearch(kws, f); !found {
			kws = slices.Insert(kws, i, f)
		}
	}
	return kws
}

// seq returns the sequence number of uid, or 0 when the client does not know it.
func (v *view) seq(uid store.UID) uint32 { return v.uids.seq(uid) }

// uid returns the UID at sequence number seq (1-based), or 0 when out of range.
func (v *view) uid(seq uint32) store.UID { return v.uids.uid(seq) }

// count is the number of messages the client knows.
func (v *view) count() int { return int(v.uids.len()) }

// last is the greatest UID the client knows, 0 when none.
func (v *view) last() store.UID { return v.uids.last() }

// sync reads the change log since the view's position and returns what to tell the
// client. allowExpunge says whether the command being answered may carry expunges.
func (v *view) sync(ctx context.Context, src changeSource, allowExpunge bool) (update, error) {
	up := update{Exists: -1}
	changes, newest, err := src.Changes(ctx, v.account, v.modseq, 0)
	if err != nil {
		return up, fmt.Errorf("changes of the selected folder: %w", err)
	}
	last := v.last()
	var added []store.UID
	changed := map[store.UID]bool{}
	for _, c := range changes {
		if c.Folder != v.folder {
			continue
		}
		switch c.Kind {
		case store.ChangeAdded:
			if c.UID > last && !slices.Contains(added, c.UID) {
				added = append(added, c.UID)
			}
		case store.ChangeFlags, store.ChangeProps:
			changed[c.UID] = true
		case store.ChangeExpunged:
			if v.seq(c.UID) != 0 && !slices.Contains(v.expunged, c.UID) {
				v.expunged = append(v.expunged, c.UID)
			} else if j := slices.Index(added, c.UID); j >= 0 {
				// Added and gone again since the last sync: the client never hears of it.
				added = slices.Delete(added, j, j+1)
			}
		}
	}
	v.modseq = newest
	if allowExpunge && len(v.expunged) > 0 {
		slices.Sort(v.expunged)
		v.uids.remove(v.expunged, func(seq uint32, u store.UID) {
			up.Expunged = append(up.Expunged, seq)
			up.Vanished = append(up.Vanished, u)
		})
		// Dropped rather than emptied: a session parked in IDLE keeps no room for them.
		v.expunged = nil
	}
	if len(added) > 0 {
		slices.Sort(added)
		for _, u := range added {
			v.uids.add(u)
		}
		up.Exists = v.count()
	} else if len(up.Expunged) > 0 {
		up.Exists = -1 // EXPUNGE responses already carry the new count
	}
	// Flags of messages the client knows, and not announced as new or gone.
	var want []store.UID
	for u := range changed {
		if v.seq(u) != 0 && !slices.Contains(added, u) && !slices.Contains(v.expunged, u) {
			want = append(want, u)
		}
	}
	if len(want) > 0 {
		slices.Sort(want)
		infos, err := src.Infos(ctx, v.folder, want)
		if err != nil {
			return up, fmt.Errorf("changed messages: %w", err)
		}
		for _, in := range infos {
			up.Changed = append(up.Changed, changedMessage{Seq: v.seq(in.UID), Info: in})
		}
	}
	return up, nil
}
