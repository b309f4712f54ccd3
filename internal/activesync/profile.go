package activesync

// What a user's e-mail profile makes the server enforce on every device of the user,
// whatever the device was told or set up by hand: the data classes it may sync
// (FolderSync offers only their folders, [MS-ASCMD] 2.2.1.5; a collection of another
// class is unknown to every command, so Sync answers status 12, [MS-ASCMD]
// 2.2.3.177.17), the oldest mail Sync sends (the FilterType is narrowed,
// [MS-ASCMD] 2.2.3.73.2; the policy's MaxEmailAgeFilter, [MS-ASPROV] 2.2.2.33, says
// the same), and the S/MIME requirements of the Provision policy ([MS-ASPROV]
// 2.2.2.51, 2.2.2.47). The profile's version is part of the policy key,
// so a new version sends every device back to Provision ([MS-ASPROV] 3.2.5.1).

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mailroom/internal/db"
	"mailroom/internal/store"
)

// Class is a data class of [MS-ASCMD] 2.2.3.27 (airsync:Class), as a bit of a
// ClassSet.
type Class uint8

// The data classes.
const (
	ClassEmail Class = 1 << iota
	ClassCalendar
	ClassContacts
	ClassTasks
	ClassNotes
)

// ClassSet is a set of data classes; 0 means every class.
type ClassSet uint8

// Has says whether the set allows c; the empty set allows everything.
func (s ClassSet) Has(c Class) bool { return s == 0 || s&ClassSet(c) != 0 }

// classOf is the data class of a folder, by its role ([MS-ASCMD] 2.2.3.186.3: the
// folder types 7–10 hold tasks, calendar, contacts and notes; all others mail).
func classOf(r store.Role) Class {
	switch folderType(r) {
	case folderTypeTasks:
		return ClassTasks
	case folderTypeCalendar:
		return ClassCalendar
	case folderTypeContacts:
		return ClassContacts
	case folderTypeNotes:
		return ClassNotes
	}
	return ClassEmail
}

// Enforced is what a user's profile requires of their devices. The zero Enforced
// requires nothing.
type Enforced struct {
	// PolicyVersion names the profile version the requirements come from; it is
	// recorded when a device provisions under them, and reported by DeviceReports.
	PolicyVersion string
	// Classes are the data classes devices may sync; 0 means all.
	Classes ClassSet
	// MaxEmailAgeFilter is the widest mail window, as a FilterType: 0 no limit, 1 one
	// day, 2 three days, 3 a week, 4 two weeks, 5 a month.
	MaxEmailAgeFilter int
	// RequireSignedSMIME and RequireEncryptedSMIME become RequireSignedSMIMEMessages
	// and RequireEncryptedSMIMEMessages ([MS-ASPROV] 2.2.2.51, 2.2.2.47).
	RequireSignedSMIME    bool
	RequireEncryptedSMIME bool
}

// ProfilePolicies gives the requirements of a user's e-mail profile.
type ProfilePolicies interface {
	// ProfilePolicy returns what the profile that applies to the user userID
	// enforces; the zero Enforced when none applies.
	ProfilePolicy(ctx context.Context, userID int64) (Enforced, error)
}

// ClientCertificates checks a client certificate at sign-in; *pki.CA has it.
type ClientCertificates interface {
	// VerifyClient returns the address the certificate was issued to, or an error if
	// it is not one this server issued for sign-in or it has been revoked.
	VerifyClient(ctx context.Context, cert *x509.Certificate) (string, error)
}

// narrowerFilter returns the narrower of two mail windows given as FilterType values
// 0–5, where 0 is no limit.
func narrowerFilter(a, b int) int {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// clampFilter narrows the FilterType a device asked for to the window max (0: no
// limit). FilterType 6 and 7 (three and six months) are wider than any max.
func clampFilter(asked, max int) int {
	if max == 0 || (asked != 0 && asked < max) {
		return asked
	}
	return max
}

// filterFor narrows the FilterType a device asked for to the widest window the policy
// and the user's profile allow, so that Sync never sends older mail, whatever the
// device asks ([MS-ASCMD] 2.2.3.73.2, [MS-ASPROV] 2.2.2.33).
func (s *Server) filterFor(r *request, asked int) int {
	return clampFilter(asked, narrowerFilter(s.policy.MaxEmailAgeFilter, r.profile.MaxEmailAgeFilter))
}

// enforced returns the user's profile requirements, the zero Enforced without a
// ProfilePolicies.
func (s *Server) enforced(ctx context.Context, userID int64) (Enforced, error) {
	if s.profiles == nil {
		return Enforced{}, nil
	}
	e, err := s.profiles.ProfilePolicy(ctx, userID)
	if err != nil {
		return Enforced{}, fmt.Errorf("profile policy of user %d: %w", userID, err)
	}
	return e, nil
}

// syncReportInterval is how stale a device's recorded last sync under its policy may
// get before a Sync or FolderSync writes it again.
const syncReportInterval = time.Minute

// noteSync records that the request's device synced under the policy it provisioned
// with; the first sync after provisioning is always recorded.
func (s *Server) noteSync(ctx context.Context, r *request) error {
	now := s.now()
	if !r.dev.policySynced.IsZero() && now.Sub(r.dev.policySynced) < syncReportInterval {
		return nil
	}
	return s.updateDevice(ctx, r.account(), r.deviceID, `policy_synced = $3`, now.UnixMicro())
}

// SyncReports tells which policy a user's devices last synced under, for the profile
// status (it implements profiles.DeviceReports). It reads only the device table, so
// the profile service can have it without a running ActiveSync server.
type SyncReports struct{ db *db.DB }

// NewSyncReports applies the package's migrations and returns the reports over d.
func NewSyncReports(ctx context.Context, d *db.DB) (*SyncReports, error) {
	if err := migrate(ctx, d); err != nil {
		return nil, err
	}
	return &SyncReports{db: d}, nil
}

// LastSync returns the most recent Sync or FolderSync of any of the user's devices
// since it last provisioned, to the minute, and the policy version it provisioned
// under; ok is false if no device has synced since provisioning.
func (r *SyncReports) LastSync(ctx context.Context, userID int64) (time.Time, string, bool, error) {
	var at int64
	var version string
	err := r.db.Read().QueryRowContext(ctx, `SELECT policy_synced, profile_policy FROM activesync_devices
		WHERE account = $1 AND policy_key <> 0 AND policy_synced <> 0 AND wipe = 'none'
		ORDER BY policy_synced DESC LIMIT 1`, userID).Scan(&at, &version)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, "", false, nil
	}
	if err != nil {
		return time.Time{}, "", false, fmt.Errorf("last sync of user %d: %w", userID, err)
	}
	return fromMicros(at), version, true, nil
}
