// Package profiles manages the e-mail profiles Mailroom hands to iOS and iPadOS
// devices, modelled on Intune's "Email settings for iOS/iPadOS": the settings and
// their validation, versions, assignment to directory groups, the per-user rendering
// to a signed configuration profile, its download over HTTPS and the per-user
// delivery status.
//
// It must never put a user's password into a profile, never deliver a profile it
// could not fill in completely for the user (a missing attribute is an error, not an
// empty key), never deliver a derived credential to a request that proved no strong
// credential (Proof), and never call a protocol package: the ActiveSync server
// reports syncs to it through DeviceReports.
package profiles

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"mailroom/internal/db"
	"mailroom/internal/directory"
	"mailroom/internal/mobileconfig"
	"mailroom/internal/pki"
)

//go:embed migrations/*/*.sql
var migrationFiles embed.FS

// Errors callers can match with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrInUse    = errors.New("in use")
	// ErrInvalid is matched by every *SettingError and other refused input.
	ErrInvalid = errors.New("invalid")
	// ErrNoProfile: no e-mail profile applies to the user.
	ErrNoProfile = errors.New("no e-mail profile is assigned")
	// ErrConflict: more than one applies; see *ConflictError.
	ErrConflict = errors.New("conflicting e-mail profiles")
	// ErrUserAttribute is matched by every *UserError.
	ErrUserAttribute = errors.New("user cannot get this profile")
	// ErrProofRequired: the profile carries a derived credential, and the request
	// for it proved no strong credential (Proof). It matches ErrUserAttribute too, so
	// that callers which explain that error to the user explain this one.
	ErrProofRequired = fmt.Errorf("%w: a strong sign-in is required", ErrUserAttribute)
)

// Directory is what the package needs of the directory; *directory.Directory has it.
type Directory interface {
	User(ctx context.Context, key string) (directory.User, error)
	UserByID(ctx context.Context, id int64) (directory.User, error)
	Users(ctx context.Context) ([]directory.User, error)
	Group(ctx context.Context, nameOrAddress string) (directory.Group, error)
	Groups(ctx context.Context) ([]directory.Group, error)
	MemberOf(ctx context.Context, userID int64) ([]directory.Group, error)
}

// Certificates issues the identities profiles carry; *pki.CA has it.
type Certificates interface {
	Identity(ctx context.Context, s pki.Subject, p pki.Purpose) (pki.Identity, error)
	PKCS12(id pki.Identity, password string) ([]byte, error)
}

// SCEPChallenges makes the one-time challenges SCEP payloads carry;
// *scep.Challenges has it.
type SCEPChallenges interface {
	NewChallenge(ctx context.Context, s pki.Subject) (password string, expires time.Time, err error)
}

// DeviceReports tells which policy a user's devices last synced under. The
// ActiveSync server implements it; until it is wired, status stops at "delivered".
type DeviceReports interface {
	// LastSync returns the user's most recent device sync and the policy version
	// (PolicyVersion) the device had acknowledged then; ok is false if none synced.
	LastSync(ctx context.Context, userID int64) (at time.Time, policyVersion string, ok bool, err error)
}

// PolicyVersion is the policy version a device syncing under version v of the
// e-mail profile named profile reports through DeviceReports.
func PolicyVersion(profile string, v int) string {
	return fmt.Sprintf("email-profile/%s/%d", strings.ToLower(profile), v)
}

// Options are what New needs.
type Options struct {
	Config Config
	// Hostname is this server's name, for profile identifiers.
	Hostname  string
	Directory Directory
	// CA issues identities; without one, profiles that need a certificate fail.
	CA Certificates
	// SCEP and SCEPURL are the challenges and the enrolment URL for client
	// certificates from SourceMailroomSCEP; without them such profiles fail.
	SCEP    SCEPChallenges
	SCEPURL string
	// OAuth is the authorization server profiles with OAuth name; required when
	// Config.OAuth is set.
	OAuth *OAuthEndpoints
	// Signer signs delivered profiles; nil delivers them unsigned.
	Signer *mobileconfig.Signer
	// Reports is nil until the ActiveSync server reports syncs.
	Reports DeviceReports
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service stores profiles and delivers them. It is safe for concurrent use.
type Service struct {
	db  *db.DB
	o   Options
	now func() time.Time
}

// New applies the package's migrations (after the directory's, whose principals they
// refer to) and returns the service.
func New(ctx context.Context, d *db.DB, o Options) (*Service, error) {
	if o.Directory == nil || o.Hostname == "" {
		return nil, errors.New("profiles: a directory and a hostname are required")
	}
	if o.Config.OAuth && (o.OAuth == nil || o.OAuth.SignIn == "" || o.OAuth.Token == "") {
		return nil, errors.New("profiles: OAuth is offered but its endpoints are not given")
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("profiles migrations: %w", err)
	}
	if err := d.Migrate(ctx, "profiles", sub); err != nil {
		return nil, err
	}
	s := &Service{db: d, o: o, now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Mode is how an assignment treats a group's members.
type Mode string

// Assignment modes. An exclusion wins over any inclusion, as in Intune.
const (
	Include Mode = "include"
	Exclude Mode = "exclude"
)

// Assignment is one group a profile is assigned to.
type Assignment struct {
	Group   string `json:"group"`
	GroupID int64  `json:"groupId"`
	Mode    Mode   `json:"mode"`
}

// Profile is a stored profile at its current version.
type Profile struct {
	Name        string       `json:"name"`
	Version     int          `json:"version"`
	Settings    Settings     `json:"settings"`
	Created     time.Time    `json:"created"`
	Updated     time.Time    `json:"updated"` // when the current version was saved
	Assignments []Assignment `json:"assignments"`
}

// Version is one saved version of a profile.
type Version struct {
	Version  int       `json:"version"`
	Settings Settings  `json:"settings"`
	Created  time.Time `json:"created"`
}

func checkName(what, name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" || len(n) > 128 || strings.ContainsAny(n, "\r\n\t/\\") {
		return "", fmt.Errorf("%w: %s name %q: 1 to 128 characters, no slashes or control characters", ErrInvalid, what, name)
	}
	return n, nil
}

// validate checks the settings alone and then that the VPN profile they name exists.
func (s *Service) validate(ctx context.Context, q querier, st Settings) error {
	err := st.Validate(s.o.Config)
	if st.VPN != "" {
		if _, verr := vpnByName(ctx, q, st.VPN); errors.Is(verr, ErrNotFound) {
			err = errors.Join(err, &SettingError{Setting: SettingVPN,
				Problem: fmt.Sprintf("no VPN profile named %q is registered (see 'mailroom profile vpn list')", st.VPN)})
		} else if verr != nil {
			return verr
		}
	}
	return err
}

// Create stores a new profile as version 1.
func (s *Service) Create(ctx context.Context, name string, st Settings) (Profile, error) {
	n, err := checkName("profile", name)
	if err != nil {
		return Profile{}, err
	}
	body, err := json.Marshal(st)
	if err != nil {
		return Profile{}, fmt.Errorf("encode settings: %w", err)
	}
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if err := s.validate(ctx, tx, st); err != nil {
			return err
		}
		now := s.now().UnixMicro()
		res, err := tx.ExecContext(ctx, `INSERT INTO email_profiles (name_key, name, current_version, created)
			VALUES ($1, $2, 1, $3) ON CONFLICT (name_key) DO NOTHING`, strings.ToLower(n), n, now)
		if err != nil {
			return fmt.Errorf("create profile %s: %w", n, err)
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			return fmt.Errorf("%w: a profile named %q", ErrExists, n)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO email_profile_versions (profile, version, settings, created)
			VALUES ($1, 1, $2, $3)`, strings.ToLower(n), string(body), now); err != nil {
			return fmt.Errorf("create profile %s: %w", n, err)
		}
		return nil
	})
	if err != nil {
		return Profile{}, err
	}
	return s.Profile(ctx, n)
}

// Update saves st as the profile's next version; old versions are kept. Settings equal
// to the current version's save nothing, so a repeated update does not make devices
// reinstall.
func (s *Service) Update(ctx context.Context, name string, st Settings) (Profile, error) {
	body, err := json.Marshal(st)
	if err != nil {
		return Profile{}, fmt.Errorf("encode settings: %w", err)
	}
	var key string
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		cur, err := profileByName(ctx, tx, name)
		if err != nil {
			return err
		}
		key = strings.ToLower(cur.Name)
		if cur.Settings == st {
			return nil
		}
		if err := s.validate(ctx, tx, st); err != nil {
			return err
		}
		next := cur.Version + 1
		if _, err := tx.ExecContext(ctx, `INSERT INTO email_profile_versions (profile, version, settings, created)
			VALUES ($1, $2, $3, $4)`, key, next, string(body), s.now().UnixMicro()); err != nil {
			return fmt.Errorf("update profile %s: %w", cur.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE email_profiles SET current_version = $1 WHERE name_key = $2`, next, key); err != nil {
			return fmt.Errorf("update profile %s: %w", cur.Name, err)
		}
		return nil
	})
	if err != nil {
		return Profile{}, err
	}
	return s.Profile(ctx, key)
}

// querier is what both a read pool and a write transaction offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func profileByName(ctx context.Context, q querier, name string) (Profile, error) {
	var p Profile
	var body string
	var created, updated int64
	err := q.QueryRowContext(ctx, `SELECT p.name, p.current_version, v.settings, p.created, v.created
		FROM email_profiles p JOIN email_profile_versions v ON v.profile = p.name_key AND v.version = p.current_version
		WHERE p.name_key = $1`, strings.ToLower(strings.TrimSpace(name))).Scan(&p.Name, &p.Version, &body, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Profile{}, fmt.Errorf("%w: no e-mail profile named %q", ErrNotFound, name)
	}
	if err != nil {
		return Profile{}, fmt.Errorf("read profile %s: %w", name, err)
	}
	if p.Settings, err = decodeSettings(body); err != nil {
		return Profile{}, fmt.Errorf("profile %s version %d: %w", p.Name, p.Version, err)
	}
	p.Created, p.Updated = fromMicros(created), fromMicros(updated)
	return p, nil
}

func decodeSettings(body string) (Settings, error) {
	st := DefaultSettings()
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return Settings{}, fmt.Errorf("decode settings: %w", err)
	}
	return st, nil
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Profile returns the named profile at its current version with its assignments.
func (s *Service) Profile(ctx context.Context, name string) (Profile, error) {
	p, err := profileByName(ctx, s.db.Read(), name)
	if err != nil {
		return Profile{}, err
	}
	all, err := s.assignments(ctx)
	if err != nil {
		return Profile{}, err
	}
	p.Assignments = all[strings.ToLower(p.Name)]
	if p.Assignments == nil {
		p.Assignments = []Assignment{}
	}
	return p, nil
}

// Profiles returns every profile at its current version, by name.
func (s *Service) Profiles(ctx context.Context) ([]Profile, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT name_key FROM email_profiles ORDER BY name_key`)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list profiles: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	out := []Profile{}
	for _, k := range keys {
		p, err := s.Profile(ctx, k)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Versions returns every saved version of the named profile, oldest first.
func (s *Service) Versions(ctx context.Context, name string) ([]Version, error) {
	p, err := profileByName(ctx, s.db.Read(), name)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT version, settings, created FROM email_profile_versions
		WHERE profile = $1 ORDER BY version`, strings.ToLower(p.Name))
	if err != nil {
		return nil, fmt.Errorf("versions of %s: %w", p.Name, err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		var v Version
		var body string
		var created int64
		if err := rows.Scan(&v.Version, &body, &created); err != nil {
			return nil, fmt.Errorf("versions of %s: %w", p.Name, err)
		}
		if v.Settings, err = decodeSettings(body); err != nil {
			return nil, fmt.Errorf("profile %s version %d: %w", p.Name, v.Version, err)
		}
		v.Created = fromMicros(created)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("versions of %s: %w", p.Name, err)
	}
	return out, nil
}

// Remove deletes a profile with its versions, assignments and download records.
func (s *Service) Remove(ctx context.Context, name string) error {
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM email_profiles WHERE name_key = $1`, strings.ToLower(strings.TrimSpace(name)))
		if err != nil {
			return fmt.Errorf("remove profile %s: %w", name, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: no e-mail profile named %q", ErrNotFound, name)
		}
		return nil
	})
}

// Assign includes or excludes the members of a group (nested groups count) for the
// profile; assigning a group again changes its mode.
func (s *Service) Assign(ctx context.Context, name, group string, mode Mode) error {
	if mode != Include && mode != Exclude {
		return fmt.Errorf("%w: assignment mode %q is neither %s nor %s", ErrInvalid, mode, Include, Exclude)
	}
	g, err := s.o.Directory.Group(ctx, group)
	if err != nil {
		return err
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		p, err := profileByName(ctx, tx, name)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO email_profile_assignments (profile, group_id, mode, created)
			VALUES ($1, $2, $3, $4) ON CONFLICT (profile, group_id) DO UPDATE SET mode = excluded.mode`,
			strings.ToLower(p.Name), g.ID, string(mode), s.now().UnixMicro())
		if err != nil {
			return fmt.Errorf("assign %s to %s: %w", p.Name, g.Name, err)
		}
		return nil
	})
}

// Unassign removes a group's assignment, include or exclude.
func (s *Service) Unassign(ctx context.Context, name, group string) error {
	g, err := s.o.Directory.Group(ctx, group)
	if err != nil {
		return err
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		p, err := profileByName(ctx, tx, name)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM email_profile_assignments WHERE profile = $1 AND group_id = $2`,
			strings.ToLower(p.Name), g.ID)
		if err != nil {
			return fmt.Errorf("unassign %s from %s: %w", p.Name, g.Name, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return fmt.Errorf("%w: %s is not assigned to group %s", ErrNotFound, p.Name, g.Name)
		}
		return nil
	})
}

// assignments returns every assignment by profile key, groups named as the directory
// names them now.
func (s *Service) assignments(ctx context.Context) (map[string][]Assignment, error) {
	groups, err := s.o.Directory.Groups(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[int64]string, len(groups))
	for _, g := range groups {
		names[g.ID] = g.Name
	}
	rows, err := s.db.Read().QueryContext(ctx, `SELECT profile, group_id, mode FROM email_profile_assignments ORDER BY profile, group_id`)
	if err != nil {
		return nil, fmt.Errorf("read assignments: %w", err)
	}
	defer rows.Close()
	out := make(map[string][]Assignment)
	for rows.Next() {
		var key, mode string
		var a Assignment
		if err := rows.Scan(&key, &a.GroupID, &mode); err != nil {
			return nil, fmt.Errorf("read assignments: %w", err)
		}
		a.Mode, a.Group = Mode(mode), names[a.GroupID]
		out[key] = append(out[key], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read assignments: %w", err)
	}
	for _, as := range out {
		slices.SortFunc(as, func(a, b Assignment) int { return strings.Compare(strings.ToLower(a.Group), strings.ToLower(b.Group)) })
	}
	return out, nil
}

// profileNames maps profile keys to names as typed.
func (s *Service) profileNames(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT name_key, name FROM email_profiles`)
	if err != nil {
		return nil, fmt.Errorf("read profiles: %w", err)
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var k, n string
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("read profiles: %w", err)
		}
		out[k] = n
	}
	return out, rows.Err()
}

// Resolution says which profile applies to a user.
type Resolution struct {
	// Profile is the one profile that applies; empty if none or in conflict.
	Profile string `json:"profile,omitempty"`
	// Conflict names every profile that applies when there is more than one.
	Conflict []string `json:"conflict,omitempty"`
}

// ConflictError is the error for a user more than one profile applies to.
type ConflictError struct {
	User     string
	Profiles []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: profiles %s all apply to %s; remove all but one assignment", ErrConflict,
		strings.Join(e.Profiles, " and "), e.User)
}

// Is makes a ConflictError match ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// applies evaluates one profile's assignments for a user in groups: included by some
// include group and excluded by none. excludedBy names the excluding group, if any.
func applies(as []Assignment, groups map[int64]bool) (included bool, excludedBy string) {
	for _, a := range as {
		if !groups[a.GroupID] {
			continue
		}
		switch a.Mode {
		case Include:
			included = true
		case Exclude:
			if excludedBy == "" {
				excludedBy = a.Group
			}
		}
	}
	return included, excludedBy
}

// Resolve says which profile applies to the user userID: the profiles whose include
// groups contain the user (directly or through nested groups) and whose exclude groups
// do not. None, one, or a conflict naming them all.
func (s *Service) Resolve(ctx context.Context, userID int64) (Resolution, error) {
	groups, err := s.groupsOf(ctx, userID)
	if err != nil {
		return Resolution{}, err
	}
	all, err := s.assignments(ctx)
	if err != nil {
		return Resolution{}, err
	}
	names, err := s.profileNames(ctx)
	if err != nil {
		return Resolution{}, err
	}
	return resolve(all, names, groups), nil
}

func resolve(all map[string][]Assignment, names map[string]string, groups map[int64]bool) Resolution {
	var hits []string
	for key, as := range all {
		if inc, exc := applies(as, groups); inc && exc == "" {
			hits = append(hits, names[key])
		}
	}
	slices.Sort(hits)
	switch len(hits) {
	case 0:
		return Resolution{}
	case 1:
		return Resolution{Profile: hits[0]}
	}
	return Resolution{Conflict: hits}
}

func (s *Service) groupsOf(ctx context.Context, userID int64) (map[int64]bool, error) {
	gs, err := s.o.Directory.MemberOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]bool, len(gs))
	for _, g := range gs {
		out[g.ID] = true
	}
	return out, nil
}
