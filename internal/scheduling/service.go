package scheduling

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/pim"
	"mailroom/internal/store"
)

// Store is what scheduling needs of the mailbox store.
type Store interface {
	pim.FolderStore
	Folder(ctx context.Context, id store.FolderID) (store.Folder, error)
	FolderByRole(ctx context.Context, id store.AccountID, role store.Role) (store.Folder, error)
	List(ctx context.Context, folder store.FolderID) ([]store.MessageInfo, error)
	Messages(ctx context.Context, folder store.FolderID, uids []store.UID) ([]store.Message, error)
	Message(ctx context.Context, id store.MessageID) (store.Message, error)
	Raw(ctx context.Context, id store.MessageID) ([]byte, error)
	Deliver(ctx context.Context, m store.NewMessage, to []store.Placement) ([]store.Delivered, error)
	Replace(ctx context.Context, id store.MessageID, m store.NewMessage) (store.Delivered, error)
}

// Directory finds users: by account for incoming mail, by address for attendees.
type Directory interface {
	UserByID(ctx context.Context, id int64) (directory.User, error)
	ResolveRecipient(ctx context.Context, address string) (directory.Recipient, error)
}

// Router sends a finished message; *mailflow.Flow is one.
type Router interface {
	Route(ctx context.Context, from string, rcpts []string, raw []byte) error
}

// Signer DKIM-signs a message for the domain of its From address.
type Signer interface {
	Sign(ctx context.Context, fromDomain string, raw []byte) ([]byte, error)
}

// Config configures a Service. Store, Directory and Flow are required.
type Config struct {
	Store     Store
	Directory Directory
	Flow      Router
	Signer    Signer // nil: sent unsigned
	Hostname  string // for Message-IDs
	Limits    pim.Limits
	Logger    *slog.Logger
	Now       func() time.Time // nil: time.Now
	// QueueSize bounds the deliveries waiting to be looked at; 0 means 4096. Beyond it
	// a message is left in the Inbox unprocessed, and logged.
	QueueSize int
}

// Service schedules meetings. It is safe for concurrent use.
type Service struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	jobs chan []store.Delivered
	// locks serialise the read-modify-write of one account's calendar copies within
	// this process, striped by account.
	locks [64]sync.Mutex
}

// New returns a Service; Run processes the incoming messages Delivered queues.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 4096
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	return &Service{cfg: cfg, log: cfg.Logger, now: cfg.Now, jobs: make(chan []store.Delivered, cfg.QueueSize)}
}

func (s *Service) lock(id store.AccountID) func() {
	m := &s.locks[uint64(id)%uint64(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// event is a calendar copy found in the store.
type event struct {
	msg  store.Message
	data []byte
}

// findEvent looks for the VEVENT with uid in the account's calendars; nil when there
// is none. Items are matched by the UID pim keeps in their properties.
func (s *Service) findEvent(ctx context.Context, account store.AccountID, uid string) (*event, error) {
	all, err := pim.EnsureFolders(ctx, s.cfg.Store, account)
	if err != nil {
		return nil, fmt.Errorf("calendar folders: %w", err)
	}
	for _, f := range pim.Collections(all, store.RoleCalendar) {
		var found *store.Message
		err := s.eachItem(ctx, f.ID, func(m store.Message) bool {
			if m.Props[pim.PropUID] == uid && pim.Kind(m.Props[pim.PropKind]) == pim.KindEvent {
				found = &m
				return false
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		if found != nil {
			raw, err := s.cfg.Store.Raw(ctx, found.ID)
			if err != nil {
				return nil, fmt.Errorf("event %q: %w", uid, err)
			}
			body, err := pim.Body(raw)
			if err != nil {
				return nil, fmt.Errorf("event %q: %w", uid, err)
			}
			return &event{msg: *found, data: body}, nil
		}
	}
	return nil, nil
}

// itemBatch bounds the items read from the store at once.
const itemBatch = 500

// eachItem calls fn for the live items of a folder until it returns false.
func (s *Service) eachItem(ctx context.Context, folder store.FolderID, fn func(store.Message) bool) error {
	infos, err := s.cfg.Store.List(ctx, folder)
	if err != nil {
		return fmt.Errorf("list folder %d: %w", folder, err)
	}
	for chunk := range slices.Chunk(infos, itemBatch) {
		uids := make([]store.UID, 0, len(chunk))
		for _, in := range chunk {
			if !slices.Contains(in.Flags, store.FlagDeleted) {
				uids = append(uids, in.UID)
			}
		}
		msgs, err := s.cfg.Store.Messages(ctx, folder, uids)
		if err != nil {
			return fmt.Errorf("read folder %d: %w", folder, err)
		}
		for _, m := range msgs {
			if !fn(m) {
				return nil
			}
		}
	}
	return nil
}

// putEvent validates data as pim does for any calendar object and stores it in place
// of cur, or as a new item of the account's default calendar.
func (s *Service) putEvent(ctx context.Context, account store.AccountID, cur *event, data []byte) (store.Delivered, error) {
	obj, err := pim.ParseCalendar(data, s.cfg.Limits)
	if err != nil {
		return store.Delivered{}, err
	}
	if obj.Kind != pim.KindEvent {
		return store.Delivered{}, fmt.Errorf("%w: a scheduling message makes events, not %s", ErrUnsupported, obj.Kind)
	}
	if cur != nil {
		return s.cfg.Store.Replace(ctx, cur.msg.ID, obj.Item(cur.msg.Props[pim.PropName]))
	}
	cal, err := s.cfg.Store.FolderByRole(ctx, account, store.RoleCalendar)
	if err != nil {
		return store.Delivered{}, fmt.Errorf("default calendar: %w", err)
	}
	d, err := s.cfg.Store.Deliver(ctx, obj.Item(resourceName(obj.UID)), []store.Placement{{Account: account, Folder: cal.ID}})
	if err != nil {
		return store.Delivered{}, err
	}
	return d[0], nil
}

// update reads the account's copy of uid, lets change compute the new text from it
// (nil when there is none) and stores that. A copy replaced meanwhile by another
// process (Replace finds it gone) is read again, a few times.
func (s *Service) update(ctx context.Context, account store.AccountID, uid string, change func(cur []byte) ([]byte, error)) (store.Delivered, error) {
	defer s.lock(account)()
	for attempt := 0; ; attempt++ {
		cur, err := s.findEvent(ctx, account, uid)
		if err != nil {
			return store.Delivered{}, err
		}
		var curData []byte
		if cur != nil {
			curData = cur.data
		}
		next, err := change(curData)
		if err != nil {
			return store.Delivered{}, err
		}
		d, err := s.putEvent(ctx, account, cur, next)
		if errors.Is(err, store.ErrNotFound) && cur != nil && attempt < 3 {
			continue
		}
		return d, err
	}
}

// resourceName is the DAV resource name of an event this server files: its UID when
// that is a safe path segment, else a hash of it.
func resourceName(uid string) string {
	safe := len(uid) <= 200 && !strings.HasPrefix(uid, ".") && !strings.ContainsFunc(uid, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@", r))
	})
	if safe && uid != "" {
		return uid + ".ics"
	}
	sum := sha256.Sum256([]byte(uid))
	return hex.EncodeToString(sum[:16]) + ".ics"
}

// addresses are the user's own addresses, lower case.
func addresses(u directory.User) []string {
	out := []string{strings.ToLower(u.Address)}
	for _, a := range u.Aliases {
		out = append(out, strings.ToLower(a))
	}
	return out
}

// send writes an iMIP message from one of the user's addresses and routes it.
func (s *Service) send(ctx context.Context, from directory.User, fromAddr string, to []string, subject, text string, method Method, cal []byte) error {
	raw, err := Mail{
		From: fromAddr, FromName: from.DisplayName, To: to, Subject: subject, Text: text,
		Method: method, Calendar: cal, Date: s.now(), Hostname: s.cfg.Hostname,
	}.Build()
	if err != nil {
		return err
	}
	if s.cfg.Signer != nil {
		if raw, err = s.cfg.Signer.Sign(ctx, fromAddr[strings.LastIndexByte(fromAddr, '@')+1:], raw); err != nil {
			return fmt.Errorf("DKIM signing: %w", err)
		}
	}
	if err := s.cfg.Flow.Route(ctx, fromAddr, to, raw); err != nil {
		return fmt.Errorf("send the %s to %s: %w", method, strings.Join(to, ", "), err)
	}
	return nil
}

// localUsers returns the users of ours an address delivers to; none for a remote or
// unknown address.
func (s *Service) localUsers(ctx context.Context, addr string) ([]directory.User, error) {
	rec, err := s.cfg.Directory.ResolveRecipient(ctx, addr)
	switch {
	case errors.Is(err, directory.ErrUnknownDomain), errors.Is(err, directory.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("resolve %s: %w", addr, err)
	}
	return rec.Users, nil
}
