package web

import (
	"context"
	"errors"
	"net"

	"mailroom/internal/activesync"
	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/oauth"
	"mailroom/internal/pki"
	"mailroom/internal/profiles"
	"mailroom/internal/queue"
	"mailroom/internal/store"
)

// Directory is what the console reads and changes in the directory;
// *directory.Directory has it.
type Directory interface {
	User(ctx context.Context, key string) (directory.User, error)
	UserByID(ctx context.Context, id int64) (directory.User, error)
	Users(ctx context.Context) ([]directory.User, error)
	AddUser(ctx context.Context, nu directory.NewUser) (directory.User, error)
	UpdateUser(ctx context.Context, key string, u directory.UserUpdate) (directory.User, error)
	SetPassword(ctx context.Context, key, password string) error
	SetEnabled(ctx context.Context, key string, enabled bool) error
	RemoveUser(ctx context.Context, key string) (directory.User, error)
	AddAlias(ctx context.Context, key, alias string) error
	RemoveAlias(ctx context.Context, alias string) error
	Domains(ctx context.Context) ([]directory.Domain, error)
	Domain(ctx context.Context, name string) (directory.Domain, error)
	DKIMKey(ctx context.Context, domain string) (directory.DKIMKey, error)
	Groups(ctx context.Context) ([]directory.Group, error)
	Group(ctx context.Context, nameOrAddress string) (directory.Group, error)
	AddGroup(ctx context.Context, name, address, displayName string) (directory.Group, error)
	RemoveGroup(ctx context.Context, name string) error
	AddMember(ctx context.Context, group, member string) error
	RemoveMember(ctx context.Context, group, member string) error
	MemberOf(ctx context.Context, userID int64) ([]directory.Group, error)
	Grants(ctx context.Context, mailbox string) ([]directory.Grant, error)
	GrantsTo(ctx context.Context, userID int64) ([]directory.Grant, error)
	Grant(ctx context.Context, mailbox, user string, r directory.Right) error
	Revoke(ctx context.Context, mailbox, user string, r directory.Right) error
}

// DomainAdmin adds and removes domains with what belongs to them (the DKIM key, the
// certificate of the discovery names); *instance.Instance has it.
type DomainAdmin interface {
	AddDomain(ctx context.Context, name, netbios string) (directory.Domain, error)
	RemoveDomain(ctx context.Context, name string) error
}

// Mailboxes creates and removes the store account of a directory mailbox;
// store.Store has it.
type Mailboxes interface {
	EnsureAccount(ctx context.Context, id store.AccountID) (store.Account, error)
	RemoveAccount(ctx context.Context, id store.AccountID) error
}

// Devices is the ActiveSync device registry; *activesync.Server has it.
type Devices interface {
	ListDevices(ctx context.Context, user string) ([]activesync.Device, error)
	Device(ctx context.Context, user, deviceID string) (activesync.Device, error)
	SetAccess(ctx context.Context, user, deviceID string, a activesync.Access) error
	Wipe(ctx context.Context, user, deviceID string, accountOnly bool) error
	RemoveDevice(ctx context.Context, user, deviceID string) error
}

// Queue is the outbound queue's administration; *queue.Queue has it.
type Queue interface {
	List(ctx context.Context) ([]queue.Entry, error)
	Retry(ctx context.Context, id int64) error
	Drop(ctx context.Context, id int64) error
}

// Profiles is the e-mail profile service; *profiles.Service has it.
type Profiles interface {
	Profiles(ctx context.Context) ([]profiles.Profile, error)
	Profile(ctx context.Context, name string) (profiles.Profile, error)
	Versions(ctx context.Context, name string) ([]profiles.Version, error)
	VPNs(ctx context.Context) ([]profiles.VPN, error)
	Create(ctx context.Context, name string, st profiles.Settings) (profiles.Profile, error)
	Update(ctx context.Context, name string, st profiles.Settings) (profiles.Profile, error)
	Remove(ctx context.Context, name string) error
	Assign(ctx context.Context, name, group string, mode profiles.Mode) error
	Unassign(ctx context.Context, name, group string) error
	Status(ctx context.Context, name string) ([]profiles.UserStatus, error)
	Resolve(ctx context.Context, userID int64) (profiles.Resolution, error)
	BuildProven(ctx context.Context, userID int64, unsigned bool, proof profiles.Proof) (profiles.Delivery, error)
	RecordDownload(ctx context.Context, profile string, version int, userID int64) error
}

// Certificates is the built-in CA's register; *pki.CA has it.
type Certificates interface {
	List(ctx context.Context, userID int64) ([]pki.Issued, error)
	Revoke(ctx context.Context, serial string) (pki.Issued, error)
}

// Resolver looks up the records a domain should publish; *net.Resolver has it.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupCNAME(ctx context.Context, host string) (string, error)
}

// isNotFound says whether err is a service's "no such thing".
func isNotFound(err error) bool {
	return errors.Is(err, directory.ErrNotFound) || errors.Is(err, profiles.ErrNotFound) ||
		errors.Is(err, pki.ErrNotFound) || errors.Is(err, queue.ErrNotFound) || errors.Is(err, activesync.ErrNotFound) ||
		errors.Is(err, auth.ErrNotFound)
}

// isUserMistake says whether err is refused input the user can correct, so its text
// is shown rather than logged.
func isUserMistake(err error) bool {
	for _, target := range []error{
		directory.ErrExists, directory.ErrInvalid, directory.ErrWeakPassword, directory.ErrUnknownDomain,
		directory.ErrInUse, profiles.ErrExists, profiles.ErrInUse, profiles.ErrInvalid, profiles.ErrNoProfile,
		profiles.ErrConflict, profiles.ErrUserAttribute, pki.ErrInvalid, pki.ErrRevoked, activesync.ErrInvalid, errBadInput,
		auth.ErrInvalid, auth.ErrExists, oauth.ErrInvalid,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// errBadInput is a form value the console itself refuses before calling a service.
var errBadInput = errors.New("invalid input")
