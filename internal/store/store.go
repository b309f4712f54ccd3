// Package store is the one place mail lives: every protocol (IMAP, POP3, ActiveSync, DAV,
// later EWS and MAPI) is a view over it. It defines the types and the Store interface that
// each backend implements; backends live in sub-packages and prove themselves against the
// conformance suite in storetest.
//
// The store never parses MIME on the read path (what protocols need is extracted once,
// at delivery) and never acknowledges a write that is not yet on disk.
package store

import (
	"context"
	"errors"
	"time"

	"mailroom/internal/mime"
)

// Errors a backend returns, wrapped with details. Callers match them with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrInvalid      = errors.New("invalid")
	ErrOverQuota    = errors.New("mailbox over quota")
	ErrRoleFolder   = errors.New("folder has a role and cannot be removed")
	ErrHasChildren  = errors.New("folder has subfolders")
	ErrTooLarge     = errors.New("message too large")
	ErrCrossAccount = errors.New("folders belong to different mailboxes")
)

// AccountID names a mailbox: the directory's id of the user or shared mailbox.
type AccountID int64

// FolderID names a folder; it is unique across all accounts.
type FolderID int64

// MessageID names one message in one folder; it is unique across all accounts and never
// reused. A copy or a move gets a new MessageID.
type MessageID int64

// ModSeq is a position in an account's change log. Every change to an account gets the
// next ModSeq; IMAP's MODSEQ, ActiveSync's SyncKey and DAV's sync-token all come from it.
type ModSeq int64

// UID is a message's IMAP UID, allocated in increasing order within a folder.
type UID uint32

// Role says what a folder is for; protocols map it to their own notions (IMAP
// special-use, ActiveSync folder types).
type Role string

// Folder roles.
const (
	RoleNone     Role = ""
	RoleInbox    Role = "inbox"
	RoleDrafts   Role = "drafts"
	RoleSent     Role = "sent"
	RoleTrash    Role = "trash"
	RoleJunk     Role = "junk"
	RoleArchive  Role = "archive"
	RoleOutbox   Role = "outbox"
	RoleCalendar Role = "calendar"
	RoleContacts Role = "contacts"
	RoleTasks    Role = "tasks"
	RoleNotes    Role = "notes"
)

// DefaultFolders are the folders every mailbox has from the start, by role and name.
var DefaultFolders = []struct {
	Role Role
	Name string
}{
	{RoleInbox, "INBOX"},
	{RoleDrafts, "Drafts"},
	{RoleSent, "Sent"},
	{RoleTrash, "Trash"},
	{RoleJunk, "Junk"},
	{RoleArchive, "Archive"},
}

// System flags, as IMAP spells them. Other flag strings are keywords.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// Folder is one folder of an account, with its counters.
type Folder struct {
	ID            FolderID  `json:"id"`
	Account       AccountID `json:"account"`
	Parent        FolderID  `json:"parent,omitempty"` // 0 at the top level
	Name          string    `json:"name"`             // this level's name, without separators
	Path          []string  `json:"path"`             // names from the top down to this folder
	Role          Role      `json:"role,omitempty"`
	UIDValidity   uint32    `json:"uidValidity"`
	UIDNext       UID       `json:"uidNext"`
	HighestModSeq ModSeq    `json:"highestModSeq"`
	Subscribed    bool      `json:"subscribed"`
	Messages      int       `json:"messages"`
	Unseen        int       `json:"unseen"`
	Size          int64     `json:"size"`
}

// Account is a mailbox's own record: its quota and use.
type Account struct {
	ID         AccountID `json:"id"`
	ModSeq     ModSeq    `json:"modSeq"`     // the newest change
	QuotaBytes int64     `json:"quotaBytes"` // 0: no limit
	UsedBytes  int64     `json:"usedBytes"`
	Messages   int       `json:"messages"`
}

// MessageInfo is what listing a folder returns per message: enough for IMAP's FETCH
// FLAGS/UID/MODSEQ, POP3's LIST and ActiveSync's change detection.
type MessageInfo struct {
	ID           MessageID `json:"id"`
	UID          UID       `json:"uid"`
	ModSeq       ModSeq    `json:"modSeq"`
	Flags        []string  `json:"flags,omitempty"`
	Size         int64     `json:"size"`
	InternalDate time.Time `json:"internalDate"`
}

// FolderIndex is what opening a folder needs, read without its messages' rows: IMAP's
// SELECT learns from it the sequence number to UID map, [UNSEEN n] and FLAGS.
type FolderIndex struct {
	UIDs        []UIDRange // the folder's UIDs as runs of consecutive UIDs, in order
	FirstUnseen UID        // the lowest UID of a message without \Seen, 0 if none
	Keywords    []string   // the keywords set on any message of the folder, sorted
}

// Message is one message with everything extracted at delivery.
type Message struct {
	MessageInfo
	Folder   FolderID          `json:"folder"`
	Account  AccountID         `json:"account"`
	Blob     string            `json:"blob"` // id of the raw bytes in the blob area
	Envelope mime.Envelope     `json:"envelope"`
	Root     mime.Part         `json:"root"`
	Props    map[string]string `json:"props,omitempty"` // extensible properties (ActiveSync, MAPI/EWS)
}

// NewMessage is a message to add: Deliver puts it into one or more folders.
type NewMessage struct {
	Raw          []byte
	Flags        []string
	InternalDate time.Time // zero: now
	Props        map[string]string
}

// Placement names a folder to deliver into. Folder 0 means the account's Inbox.
type Placement struct {
	Account AccountID
	Folder  FolderID
}

// Delivered says where a delivered copy landed.
type Delivered struct {
	Account AccountID `json:"account"`
	Folder  FolderID  `json:"folder"`
	ID      MessageID `json:"id"`
	UID     UID       `json:"uid"`
	ModSeq  ModSeq    `json:"modSeq"`
}

// FlagOp says how StoreFlags combines the given flags with those a message has.
type FlagOp int

// Flag operations (IMAP STORE FLAGS, +FLAGS, -FLAGS).
const (
	FlagsReplace FlagOp = iota
	FlagsAdd
	FlagsRemove
)

// FlagUpdate asks to change the flags of some messages of one folder.
type FlagUpdate struct {
	Folder FolderID
	UIDs   []UID
	Op     FlagOp
	Flags  []string
	// UnchangedSince, when not 0, changes only messages whose ModSeq is at most this
	// (RFC 7162 3.1.3); the others are returned as Modified.
	UnchangedSince ModSeq
}

// FlagResult is the outcome of StoreFlags.
type FlagResult struct {
	Updated  []MessageInfo // messages whose flags are now as asked (changed or not)
	Modified []UID         // refused by UnchangedSince
	ModSeq   ModSeq        // the change's ModSeq; 0 if nothing changed
}

// CopyResult maps source UIDs to the UIDs of the new copies (IMAP COPYUID/MOVE).
type CopyResult struct {
	UIDValidity uint32
	Source      []UID
	Dest        []UID
	ModSeq      ModSeq
}

// ChangeKind says what a change-log entry records.
type ChangeKind string

// Kinds of changes.
const (
	ChangeAdded         ChangeKind = "added"          // message added to Folder
	ChangeFlags         ChangeKind = "flags"          // message's flags changed
	ChangeProps         ChangeKind = "props"          // message's properties changed
	ChangeExpunged      ChangeKind = "expunged"       // message removed from Folder (deleted or moved away)
	ChangeFolderCreated ChangeKind = "folder-created" // Folder created
	ChangeFolderUpdated ChangeKind = "folder-updated" // Folder renamed or moved
	ChangeFolderDeleted ChangeKind = "folder-deleted" // Folder deleted
)

// Change is one entry of an account's change log.
type Change struct {
	ModSeq  ModSeq     `json:"modSeq"`
	Kind    ChangeKind `json:"kind"`
	Folder  FolderID   `json:"folder"`
	Message MessageID  `json:"message,omitempty"`
	UID     UID        `json:"uid,omitempty"`
}

// Criteria selects messages in a folder. All set fields must match (AND); Or and Not
// combine sub-criteria. Text matching is case-insensitive substring matching, as IMAP
// SEARCH requires (RFC 9051 6.4.4).
type Criteria struct {
	UIDs          []UIDRange
	Flags         []string  // all must be set
	NotFlags      []string  // none may be set
	Since, Before time.Time // internal date (day granularity is the caller's business)
	SentSince     time.Time // Date: header
	SentBefore    time.Time
	Larger        int64
	Smaller       int64
	ModSeq        ModSeq // messages with ModSeq >= this
	Subject       string
	From          string
	To            string
	Cc            string
	Bcc           string
	Header        []HeaderMatch
	Body          string // body text
	Text          string // headers and body
	Or            [][2]*Criteria
	Not           []*Criteria
}

// HeaderMatch matches a header field containing Value (any value when empty).
type HeaderMatch struct {
	Name, Value string
}

// UIDRange is an inclusive range of UIDs; Last 0 means no upper bound.
type UIDRange struct {
	First, Last UID
}

// Store is what every backend offers. Methods that write return only once the write is
// durable.
type Store interface {
	// EnsureAccount creates the account and its default folders if they do not exist.
	EnsureAccount(ctx context.Context, id AccountID) (Account, error)
	Account(ctx context.Context, id AccountID) (Account, error)
	SetQuota(ctx context.Context, id AccountID, bytes int64) error
	// RemoveAccount deletes the account with all its folders, messages and changes.
	RemoveAccount(ctx context.Context, id AccountID) error

	Folders(ctx context.Context, id AccountID) ([]Folder, error)
	Folder(ctx context.Context, id FolderID) (Folder, error)
	FolderByPath(ctx context.Context, id AccountID, path []string) (Folder, error)
	FolderByRole(ctx context.Context, id AccountID, role Role) (Folder, error)
	CreateFolder(ctx context.Context, id AccountID, parent FolderID, name string, role Role) (Folder, error)
	// RenameFolder moves a folder under newParent (0: top level) with a new name.
	RenameFolder(ctx context.Context, folder, newParent FolderID, newName string) (Folder, error)
	// DeleteFolder removes an empty-of-children folder and its messages.
	DeleteFolder(ctx context.Context, folder FolderID) error
	SetSubscribed(ctx context.Context, folder FolderID, subscribed bool) error

	// Deliver adds one message to every placement in one durable step: either every copy
	// is stored or none is.
	Deliver(ctx context.Context, m NewMessage, to []Placement) ([]Delivered, error)
	// Replace puts m in place of message id, in the same folder, in one durable step with
	// one ModSeq: the change log records id expunged and the new message added (a DAV PUT
	// over an existing resource, an ActiveSync Change). On any error nothing changes.
	Replace(ctx context.Context, id MessageID, m NewMessage) (Delivered, error)
	List(ctx context.Context, folder FolderID) ([]MessageInfo, error)
	// FolderIndex returns the folder's UIDs, first unseen message and keywords. Its parts
	// are read one after the other, not as one snapshot: a change in between may show
	// in one and not the others.
	FolderIndex(ctx context.Context, folder FolderID) (FolderIndex, error)
	// Infos returns the messages of folder with the given UIDs, in UID order; UIDs that
	// are not there are left out.
	Infos(ctx context.Context, folder FolderID, uids []UID) ([]MessageInfo, error)
	Message(ctx context.Context, id MessageID) (Message, error)
	// Messages returns the messages of folder with the given UIDs, in UID order, with
	// everything extracted at delivery; UIDs that are not there are left out.
	Messages(ctx context.Context, folder FolderID, uids []UID) ([]Message, error)
	// Marks returns the messages of folder with the given UIDs as Messages does, but
	// without what was extracted from their bytes (Envelope and Root are left empty):
	// their place, blob, flags and properties, for a caller that has the rest already.
	Marks(ctx context.Context, folder FolderID, uids []UID) ([]Message, error)
	MessageByUID(ctx context.Context, folder FolderID, uid UID) (Message, error)
	// Raw returns the message's bytes as delivered.
	Raw(ctx context.Context, id MessageID) ([]byte, error)
	// RawMany returns the bytes of several messages at once; ids that name no message
	// are left out of the map.
	RawMany(ctx context.Context, ids []MessageID) (map[MessageID][]byte, error)
	StoreFlags(ctx context.Context, u FlagUpdate) (FlagResult, error)
	SetProps(ctx context.Context, id MessageID, props map[string]string) (ModSeq, error)
	Copy(ctx context.Context, from FolderID, uids []UID, to FolderID) (CopyResult, error)
	Move(ctx context.Context, from FolderID, uids []UID, to FolderID) (CopyResult, error)
	// Expunge removes messages from a folder for good; it returns the UIDs removed.
	Expunge(ctx context.Context, folder FolderID, uids []UID) ([]UID, error)
	Search(ctx context.Context, folder FolderID, c *Criteria) ([]UID, error)

	// Changes returns the account's changes after since, oldest first, at most limit, and
	// the account's newest ModSeq.
	Changes(ctx context.Context, id AccountID, since ModSeq, limit int) ([]Change, ModSeq, error)
	// Subscribe returns a channel that receives the account's newest ModSeq soon after any
	// change (within a second, whichever process made it), and a function that ends the
	// subscription. Wake-ups may be merged; a receiver asks Changes for the detail.
	Subscribe(id AccountID) (<-chan ModSeq, func())

	Close() error
}
