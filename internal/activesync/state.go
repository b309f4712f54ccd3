package activesync

// Sync states back the SyncKeys of FolderSync and Sync ([MS-ASCMD] 2.2.3.181.3 and
// 2.2.3.181.4). A key names a recorded state: the change log position it reflects and
// what the device holds. The state a key produced keeps the skeleton of the answer that
// issued it (which items, in which order, under which key; never message content, which
// stays in the store), so a device that lost a response and presents the previous key
// again gets the same answer; once the device presents the new key, older states go.

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// hierarchyCollection is the collection name of the folder hierarchy's states.
const hierarchyCollection = ""

// syncState is one recorded state of a collection.
type syncState struct {
	key      int64
	parent   int64
	modseq   store.ModSeq
	items    []byte
	backlog  bool
	response []byte
	// below is nonzero while the collection's first sync pages the folder downward by
	// UID (pageFolder): every message with a UID at or above it has been sent or comes
	// through the change log after modseq; those below are still to send.
	below store.UID
}

// stateRef names a collection of one device.
type stateRef struct {
	account    store.AccountID
	device     string
	collection string
}

// lockState locks ref against the device's other requests on the same collection and
// returns the unlock. Callers never hold two at once.
func (s *Server) lockState(ref stateRef) func() {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d\x00%s\x00%s", ref.account, ref.device, ref.collection)
	mu := &s.stateLocks[h.Sum32()%uint32(len(s.stateLocks))]
	mu.Lock()
	return mu.Unlock
}

// parseKey reads a SyncKey; it reports false for anything this server never issued.
func parseKey(s string) (int64, bool) {
	if s == "" || len(s) > 19 || (s[0] == '0' && s != "0") {
		return 0, false
	}
	k, err := strconv.ParseInt(s, 10, 64)
	return k, err == nil && k >= 0
}

func (s *Server) loadState(ctx context.Context, ref stateRef, key int64) (syncState, bool, error) {
	return s.queryState(ctx, `sync_key = $4`, ref, key)
}

// childState returns the state a Sync with key produced, if that Sync happened.
func (s *Server) childState(ctx context.Context, ref stateRef, key int64) (syncState, bool, error) {
	return s.queryState(ctx, `parent_key = $4`, ref, key)
}

// stateAndChild returns, in one query, the state key names, the state a Sync with key
// produced, if that Sync happened (a zero key marks what is not there), and, when
// either is there, the options last saved for the collection (collectionOptions).
func (s *Server) stateAndChild(ctx context.Context, ref stateRef, key int64) (st, child syncState, options []byte, err error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT `+stateColumns+`, (SELECT options FROM activesync_collections c
			WHERE c.account = $1 AND c.device_id = $2 AND c.collection = $3)
		FROM activesync_states
		WHERE account = $1 AND device_id = $2 AND collection = $3 AND (sync_key = $4 OR parent_key = $4)
		ORDER BY sync_key`, int64(ref.account), ref.device, ref.collection, key)
	if err != nil {
		return st, child, nil, fmt.Errorf("sync state of %q: %w", ref.collection, err)
	}
	defer rows.Close()
	for rows.Next() {
		var opts sql.NullString
		x, err := scanState(rows, &opts)
		if err != nil {
			return syncState{}, syncState{}, nil, fmt.Errorf("sync state of %q: %w", ref.collection, err)
		}
		if x.key == key {
			st = x
		} else if x.parent == key {
			child = x
		}
		if opts.Valid {
			options = []byte(opts.String)
		}
	}
	if err := rows.Err(); err != nil {
		return syncState{}, syncState{}, nil, fmt.Errorf("sync state of %q: %w", ref.collection, err)
	}
	return st, child, options, nil
}

// newestState returns the collection's newest state.
func (s *Server) newestState(ctx context.Context, ref stateRef) (syncState, bool, error) {
	return s.queryState(ctx, `sync_key = (SELECT max(sync_key) FROM activesync_states
		WHERE account = $1 AND device_id = $2 AND collection = $3) AND $4 = 0`, ref, 0)
}

const stateColumns = `sync_key, parent_key, modseq, items, backlog, response, page_below`

// scanState reads the stateColumns of a row, and then into more the columns after them.
func scanState(row interface{ Scan(...any) error }, more ...any) (syncState, error) {
	var st syncState
	var backlog int
	err := row.Scan(append([]any{&st.key, &st.parent, &st.modseq, &st.items, &backlog, &st.response, &st.below}, more...)...)
	st.backlog = backlog != 0
	return st, err
}

func (s *Server) queryState(ctx context.Context, cond string, ref stateRef, arg int64) (syncState, bool, error) {
	st, err := scanState(s.db.Read().QueryRowContext(ctx, `SELECT `+stateColumns+`
		FROM activesync_states WHERE account = $1 AND device_id = $2 AND collection = $3 AND `+cond+`
		ORDER BY sync_key DESC LIMIT 1`, int64(ref.account), ref.device, ref.collection, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return syncState{}, false, nil
	}
	if err != nil {
		return syncState{}, false, fmt.Errorf("sync state of %q: %w", ref.collection, err)
	}
	return st, true, nil
}

// nextKey allocates the collection's next key inside tx; keys only grow, so a key of a
// state that a restart at 0 removed is never valid again.
func nextKey(ctx context.Context, tx *sql.Tx, ref stateRef) (int64, error) {
	var k int64
	err := tx.QueryRowContext(ctx, `INSERT INTO activesync_collections (account, device_id, collection, next_key)
		VALUES ($1, $2, $3, 2) ON CONFLICT (account, device_id, collection) DO UPDATE SET next_key = activesync_collections.next_key + 1
		RETURNING next_key - 1`, int64(ref.account), ref.device, ref.collection).Scan(&k)
	if err != nil {
		return 0, fmt.Errorf("allocate sync key: %w", err)
	}
	return k, nil
}

// resetState starts the collection over (SyncKey 0): every state goes and st is
// recorded under a new key.
func (s *Server) resetState(ctx context.Context, ref stateRef, st syncState) (int64, error) {
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM activesync_states WHERE account = $1 AND device_id = $2 AND collection = $3`,
			int64(ref.account), ref.device, ref.collection); err != nil {
			return fmt.Errorf("reset sync state: %w", err)
		}
		var err error
		if st.key, err = nextKey(ctx, tx, ref); err != nil {
			return err
		}
		return insertState(ctx, tx, ref, s.micros(), st)
	})
	return st.key, err
}

func insertState(ctx context.Context, tx *sql.Tx, ref stateRef, now int64, st syncState) error {
	if st.items == nil {
		st.items = []byte{}
	}
	if st.response == nil {
		st.response = []byte{}
	}
	backlog := 0
	if st.backlog {
		backlog = 1
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO activesync_states (account, device_id, collection, sync_key,
		parent_key, modseq, items, backlog, response, created, page_below) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		int64(ref.account), ref.device, ref.collection, st.key, st.parent, int64(st.modseq), st.items, backlog, st.response, now, int64(st.below))
	if err != nil {
		return fmt.Errorf("save sync state: %w", err)
	}
	return nil
}

// advanceState records the state a request with key parent produced and returns the
// answer build makes for the new key; the answer is kept with the state for replay.
// States older than parent go: the device has shown it holds parent.
func (s *Server) advanceState(ctx context.Context, ref stateRef, parent int64, st syncState,
	build func(newKey int64) *wbxml.Element) (*wbxml.Element, error) {
	var resp *wbxml.Element
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM activesync_states WHERE account = $1 AND device_id = $2
			AND collection = $3 AND (sync_key < $4 OR parent_key = $4)`, int64(ref.account), ref.device, ref.collection, parent); err != nil {
			return fmt.Errorf("prune sync states: %w", err)
		}
		var err error
		if st.key, err = nextKey(ctx, tx, ref); err != nil {
			return err
		}
		st.parent = parent
		resp = build(st.key)
		if st.response, err = wbxml.Encode(skeleton(resp)); err != nil {
			return fmt.Errorf("encode %s response: %w", resp.Name, err)
		}
		return insertState(ctx, tx, ref, s.micros(), st)
	})
	return resp, err
}

// updateState rewrites a state in place: used when a Sync found nothing to send (the
// state stays what the device holds, only newer), and when MoveItems changes what the
// device holds.
func (s *Server) updateState(ctx context.Context, ref stateRef, st syncState) error {
	backlog := 0
	if st.backlog {
		backlog = 1
	}
	if st.items == nil {
		st.items = []byte{}
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE activesync_states SET modseq = $5, items = $6, backlog = $7, page_below = $8
			WHERE account = $1 AND device_id = $2 AND collection = $3 AND sync_key = $4`,
			int64(ref.account), ref.device, ref.collection, st.key, int64(st.modseq), st.items, backlog, int64(st.below))
		if err != nil {
			return fmt.Errorf("update sync state: %w", err)
		}
		return nil
	})
}

// collectionOptions returns the options the device last sent for a collection.
func (s *Server) collectionOptions(ctx context.Context, ref stateRef) ([]byte, error) {
	var v string
	err := s.db.Read().QueryRowContext(ctx, `SELECT options FROM activesync_collections
		WHERE account = $1 AND device_id = $2 AND collection = $3`, int64(ref.account), ref.device, ref.collection).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("collection options: %w", err)
	}
	return []byte(v), nil
}

func (s *Server) saveCollectionOptions(ctx context.Context, ref stateRef, opts []byte) error {
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO activesync_collections (account, device_id, collection, next_key, options)
			VALUES ($1, $2, $3, 1, $4) ON CONFLICT (account, device_id, collection) DO UPDATE SET options = excluded.options`,
			int64(ref.account), ref.device, ref.collection, string(opts))
		if err != nil {
			return fmt.Errorf("save collection options: %w", err)
		}
		return nil
	})
}

// heldItems is what a device holds of a mail collection: each message's UID and the
// ModSeq it had when the device last got it.
type heldItems map[store.UID]store.ModSeq

// encode writes the set as varint pairs in UID order, UIDs delta-coded, so a state of
// tens of thousands of messages stays a few hundred kilobytes at most.
func (h heldItems) encode() []byte {
	uids := make([]store.UID, 0, len(h))
	for u := range h {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	b := make([]byte, 0, len(uids)*6)
	var prev store.UID
	for _, u := range uids {
		b = binary.AppendUvarint(b, uint64(u-prev))
		b = binary.AppendUvarint(b, uint64(h[u]))
		prev = u
	}
	return b
}

func decodeHeld(b []byte) (heldItems, error) {
	h := heldItems{}
	var prev uint64
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("corrupt sync state")
		}
		b = b[n:]
		m, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("corrupt sync state")
		}
		b = b[n:]
		prev += d
		h[store.UID(prev)] = store.ModSeq(m)
	}
	return h, nil
}

// skeleton copies an answer without the item content in it (ApplicationData,
// Properties): what a replay needs to render the same answer again from the store.
func skeleton(e *wbxml.Element) *wbxml.Element {
	c := *e
	c.Children = nil
	for _, k := range e.Children {
		if k.Is(wbxml.NSAirSync, "ApplicationData") {
			continue
		}
		c.Children = append(c.Children, skeleton(k))
	}
	return &c
}
