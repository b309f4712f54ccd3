package activesync

// Device partnerships, access rules and remote wipe state. The admission checks before
// every command follow [MS-ASPROV] 3.2.5 (policy key, wipe) and Exchange's
// allow/block/quarantine (ABQ) model; the admin methods are what the CLI calls.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/store"
)

// ErrNotFound is returned (wrapped) for an unknown device, user or rule.
var ErrNotFound = errors.New("not found")

// ErrInvalid is returned (wrapped) for an argument the admin API refuses.
var ErrInvalid = errors.New("invalid")

// Access is a device's access level.
type Access string

// Access levels. A quarantined device may provision (so an administrator sees it with
// its details) but gets status 129 for everything else until allowed.
const (
	AccessAllow      Access = "allow"
	AccessBlock      Access = "block"
	AccessQuarantine Access = "quarantine"
)

func parseAccess(a Access) (Access, error) {
	switch a {
	case AccessAllow, AccessBlock, AccessQuarantine:
		return a, nil
	}
	return "", fmt.Errorf("%w: access %q is not allow, block or quarantine", ErrInvalid, a)
}

// WipeState is where a device stands with a remote wipe.
type WipeState string

// Wipe states ([MS-ASPROV] 3.1.5.1.2.2, 3.1.5.1.2.3).
const (
	WipeNone                    WipeState = "none"
	WipePending                 WipeState = "pending"
	WipePendingAccountOnly      WipeState = "pending-account-only"
	WipeAcknowledged            WipeState = "acknowledged"
	WipeAcknowledgedAccountOnly WipeState = "acknowledged-account-only"
)

// Device is a device partnership: one device of one user.
type Device struct {
	Account        store.AccountID `json:"account"`
	DeviceID       string          `json:"deviceId"`
	DeviceType     string          `json:"deviceType"`
	Model          string          `json:"model,omitempty"`
	IMEI           string          `json:"imei,omitempty"`
	FriendlyName   string          `json:"friendlyName,omitempty"`
	OS             string          `json:"os,omitempty"`
	OSLanguage     string          `json:"osLanguage,omitempty"`
	PhoneNumber    string          `json:"phoneNumber,omitempty"`
	MobileOperator string          `json:"mobileOperator,omitempty"`
	UserAgent      string          `json:"userAgent,omitempty"`
	Version        string          `json:"protocolVersion"`
	FirstSync      time.Time       `json:"firstSync"`
	LastSync       time.Time       `json:"lastSync"`
	// PolicyKey is the final key the device acknowledged (0: not provisioned) and
	// PolicyStatus its acknowledgement (1 applied, 2 partially, 3 not, 4 externally
	// managed).
	PolicyKey    uint32 `json:"policyKey"`
	PolicyStatus int    `json:"policyStatus"`
	// Access is the access level in force; AccessBy says where it comes from: "admin",
	// "rule N" or "default".
	Access   Access `json:"access"`
	AccessBy string `json:"accessBy"`
	// AdminAccess is what an administrator set; "" lets the rules decide.
	AdminAccess      Access    `json:"adminAccess,omitempty"`
	Wipe             WipeState `json:"wipe"`
	WipeRequested    time.Time `json:"wipeRequested,omitzero"`
	WipeAcknowledged time.Time `json:"wipeAcknowledged,omitzero"`

	// ProfilePolicy is the e-mail profile version the device provisioned under
	// (profiles.PolicyVersion), "" for none.
	ProfilePolicy string `json:"profilePolicy,omitempty"`

	pingHeartbeat int
	pingFolders   string
	policySynced  time.Time // last Sync or FolderSync since provisioning
}

const deviceColumns = `account, device_id, device_type, model, imei, friendly_name, os, os_language,
	phone_number, mobile_operator, user_agent, protocol_version, first_sync, last_sync, policy_key,
	policy_status, access, wipe, wipe_requested, wipe_acknowledged, ping_heartbeat, ping_folders,
	profile_policy, policy_synced`

type scanner interface{ Scan(dest ...any) error }

func scanDevice(sc scanner) (Device, error) {
	var d Device
	var first, last, wreq, wack, synced int64
	var key int64
	err := sc.Scan(&d.Account, &d.DeviceID, &d.DeviceType, &d.Model, &d.IMEI, &d.FriendlyName, &d.OS,
		&d.OSLanguage, &d.PhoneNumber, &d.MobileOperator, &d.UserAgent, &d.Version, &first, &last,
		&key, &d.PolicyStatus, &d.AdminAccess, &d.Wipe, &wreq, &wack, &d.pingHeartbeat, &d.pingFolders,
		&d.ProfilePolicy, &synced)
	if err != nil {
		return Device{}, err
	}
	d.PolicyKey = uint32(key)
	d.FirstSync, d.LastSync = fromMicros(first), fromMicros(last)
	d.WipeRequested, d.WipeAcknowledged = fromMicros(wreq), fromMicros(wack)
	d.policySynced = fromMicros(synced)
	return d, nil
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func (s *Server) micros() int64 { return s.now().UnixMicro() }

// AccessRule allows, blocks or quarantines devices by type or user agent.
type AccessRule struct {
	ID int64 `json:"id"`
	// Field is "device-type" or "user-agent".
	Field string `json:"field"`
	// Pattern matches case-insensitively; a trailing "*" matches any rest.
	Pattern string `json:"pattern"`
	Access  Access `json:"access"`
}

func (a AccessRule) matches(deviceType, userAgent string) bool {
	v := deviceType
	if a.Field == "user-agent" {
		v = userAgent
	}
	v, p := strings.ToLower(v), strings.ToLower(a.Pattern)
	if rest, ok := strings.CutSuffix(p, "*"); ok {
		return strings.HasPrefix(v, rest)
	}
	return v == p
}

// AddAccessRule adds a rule; rules apply in the order they were added, the first
// match deciding, to devices an administrator has not set individually.
func (s *Server) AddAccessRule(ctx context.Context, r AccessRule) (AccessRule, error) {
	if r.Field != "device-type" && r.Field != "user-agent" {
		return AccessRule{}, fmt.Errorf("%w: rule field %q is not device-type or user-agent", ErrInvalid, r.Field)
	}
	if strings.TrimSpace(r.Pattern) == "" {
		return AccessRule{}, fmt.Errorf("%w: rule needs a pattern", ErrInvalid)
	}
	var err error
	if r.Access, err = parseAccess(r.Access); err != nil {
		return AccessRule{}, err
	}
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO activesync_access_rules (field, pattern, access)
			VALUES ($1, $2, $3) RETURNING id`, r.Field, r.Pattern, string(r.Access)).Scan(&r.ID)
	})
	if err != nil {
		return AccessRule{}, fmt.Errorf("add access rule: %w", err)
	}
	return r, nil
}

// AccessRules lists the rules in the order they apply.
func (s *Server) AccessRules(ctx context.Context) ([]AccessRule, error) {
	rules, _, err := s.accessSettings(ctx)
	return rules, err
}

// accessSettings reads the rules, in the order they apply, and the default access
// (AccessAllow until set) in one statement: every request's admission needs both.
func (s *Server) accessSettings(ctx context.Context) ([]AccessRule, Access, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT 0, 0, '', '', value FROM activesync_options WHERE name = 'default-access'
		UNION ALL SELECT 1, id, field, pattern, access FROM activesync_access_rules ORDER BY 1, 2`)
	if err != nil {
		return nil, "", fmt.Errorf("access rules: %w", err)
	}
	defer rows.Close()
	var rules []AccessRule
	def := AccessAllow
	for rows.Next() {
		var isRule int
		var r AccessRule
		if err := rows.Scan(&isRule, &r.ID, &r.Field, &r.Pattern, &r.Access); err != nil {
			return nil, "", fmt.Errorf("access rules: %w", err)
		}
		if isRule == 0 {
			def = r.Access
			continue
		}
		rules = append(rules, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("access rules: %w", err)
	}
	return rules, def, nil
}

// RemoveAccessRule removes the rule with the given id.
func (s *Server) RemoveAccessRule(ctx context.Context, id int64) error {
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM activesync_access_rules WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("remove access rule %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("access rule %d: %w", id, ErrNotFound)
		}
		return nil
	})
}

// SetDefaultAccess sets the access of devices no rule and no administrator decides.
func (s *Server) SetDefaultAccess(ctx context.Context, a Access) error {
	a, err := parseAccess(a)
	if err != nil {
		return err
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO activesync_options (name, value) VALUES ('default-access', $1)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, string(a))
		if err != nil {
			return fmt.Errorf("set default access: %w", err)
		}
		return nil
	})
}

// DefaultAccess returns the access of devices no rule and no administrator decides;
// it is AccessAllow until set.
func (s *Server) DefaultAccess(ctx context.Context) (Access, error) {
	_, def, err := s.accessSettings(ctx)
	return def, err
}

// resolveAccess fills d.Access and d.AccessBy.
func (s *Server) resolveAccess(ctx context.Context, d *Device) error {
	if d.AdminAccess != "" {
		d.Access, d.AccessBy = d.AdminAccess, "admin"
		return nil
	}
	rules, def, err := s.accessSettings(ctx)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if r.matches(d.DeviceType, d.UserAgent) {
			d.Access, d.AccessBy = r.Access, "rule "+strconv.FormatInt(r.ID, 10)
			return nil
		}
	}
	d.Access, d.AccessBy = def, "default"
	return nil
}

// accountOf resolves the admin API's user argument.
func (s *Server) accountOf(ctx context.Context, user string) (store.AccountID, error) {
	u, err := s.dir.User(ctx, user)
	if err != nil {
		return 0, fmt.Errorf("user %s: %w", user, err)
	}
	return store.AccountID(u.ID), nil
}

// ListDevices lists the devices of user (any login form), or of everyone when user
// is "".
func (s *Server) ListDevices(ctx context.Context, user string) ([]Device, error) {
	q := `SELECT ` + deviceColumns + ` FROM activesync_devices`
	var args []any
	if user != "" {
		acct, err := s.accountOf(ctx, user)
		if err != nil {
			return nil, err
		}
		q += ` WHERE account = $1`
		args = append(args, int64(acct))
	}
	rows, err := s.db.Read().QueryContext(ctx, q+` ORDER BY account, device_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	for i := range out {
		if err := s.resolveAccess(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Device returns one device of user.
func (s *Server) Device(ctx context.Context, user, deviceID string) (Device, error) {
	acct, err := s.accountOf(ctx, user)
	if err != nil {
		return Device{}, err
	}
	d, err := s.loadDevice(ctx, s.db.Read(), acct, deviceID)
	if err != nil {
		return Device{}, err
	}
	return d, s.resolveAccess(ctx, &d)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Server) loadDevice(ctx context.Context, q querier, acct store.AccountID, deviceID string) (Device, error) {
	d, err := scanDevice(q.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM activesync_devices
		WHERE account = $1 AND device_id = $2`, int64(acct), deviceID))
	if errors.Is(err, sql.ErrNoRows) {
		return Device{}, fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
	}
	if err != nil {
		return Device{}, fmt.Errorf("device %s: %w", deviceID, err)
	}
	return d, nil
}

// updateDevice runs set (an UPDATE's SET list with $3… arguments) on one device and
// fails with ErrNotFound when there is none.
func (s *Server) updateDevice(ctx context.Context, acct store.AccountID, deviceID, set string, args ...any) error {
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE activesync_devices SET `+set+` WHERE account = $1 AND device_id = $2`,
			append([]any{int64(acct), deviceID}, args...)...)
		if err != nil {
			return fmt.Errorf("update device %s: %w", deviceID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
		}
		return nil
	})
}

// SetAccess sets a device's access level; "" hands the decision back to the rules.
func (s *Server) SetAccess(ctx context.Context, user, deviceID string, a Access) error {
	if a != "" {
		var err error
		if a, err = parseAccess(a); err != nil {
			return err
		}
	}
	acct, err := s.accountOf(ctx, user)
	if err != nil {
		return err
	}
	return s.updateDevice(ctx, acct, deviceID, `access = $3`, string(a))
}

// Wipe asks a device to wipe itself at its next request: all its data, or with
// accountOnly only this account's data (AccountOnlyRemoteWipe, which needs a device
// speaking 16.1; older devices know only the full wipe, so it is refused for them).
func (s *Server) Wipe(ctx context.Context, user, deviceID string, accountOnly bool) error {
	acct, err := s.accountOf(ctx, user)
	if err != nil {
		return err
	}
	state := WipePending
	if accountOnly {
		state = WipePendingAccountOnly
		d, err := s.loadDevice(ctx, s.db.Read(), acct, deviceID)
		if err != nil {
			return err
		}
		if v, _ := parseVersion(d.Version); v < 161 {
			return fmt.Errorf("%w: device %s speaks ActiveSync %s; account-only wipe needs 16.1", ErrInvalid, deviceID, d.Version)
		}
	}
	return s.updateDevice(ctx, acct, deviceID, `wipe = $3, wipe_requested = $4, wipe_acknowledged = 0`,
		string(state), s.micros())
}

// RemoveDevice forgets a device with its sync states; if it connects again it starts
// as a new device.
func (s *Server) RemoveDevice(ctx context.Context, user, deviceID string) error {
	acct, err := s.accountOf(ctx, user)
	if err != nil {
		return err
	}
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM activesync_devices WHERE account = $1 AND device_id = $2`, int64(acct), deviceID)
		if err != nil {
			return fmt.Errorf("remove device %s: %w", deviceID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("device %s: %w", deviceID, ErrNotFound)
		}
		for _, t := range []string{"activesync_states", "activesync_collections"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE account = $1 AND device_id = $2`, int64(acct), deviceID); err != nil {
				return fmt.Errorf("remove device %s: %w", deviceID, err)
			}
		}
		return nil
	})
}

// touchDevice loads the request's device, creating the partnership on first contact
// and recording type, user agent and version as they change (last sync at most once a
// minute, so a Ping loop does not write on every request).
func (s *Server) touchDevice(ctx context.Context, r *request) (Device, error) {
	acct := r.account()
	ver := fmt.Sprintf("%d.%d", r.version/10, r.version%10)
	d, err := s.loadDevice(ctx, s.db.Read(), acct, r.deviceID)
	now := s.now()
	switch {
	case errors.Is(err, ErrNotFound):
		err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO activesync_devices (account, device_id, device_type,
				user_agent, protocol_version, first_sync, last_sync) VALUES ($1, $2, $3, $4, $5, $6, $6)
				ON CONFLICT (account, device_id) DO NOTHING`,
				int64(acct), r.deviceID, r.deviceType, r.userAgent, ver, now.UnixMicro())
			return err
		})
		if err != nil {
			return Device{}, fmt.Errorf("add device %s: %w", r.deviceID, err)
		}
		if d, err = s.loadDevice(ctx, s.db.Read(), acct, r.deviceID); err != nil {
			return Device{}, err
		}
	case err != nil:
		return Device{}, err
	case d.DeviceType != r.deviceType || d.UserAgent != r.userAgent || d.Version != ver || now.Sub(d.LastSync) > time.Minute:
		err := s.updateDevice(ctx, acct, r.deviceID, `device_type = $3, user_agent = $4, protocol_version = $5, last_sync = $6`,
			r.deviceType, r.userAgent, ver, now.UnixMicro())
		if err != nil {
			return Device{}, err
		}
		d.DeviceType, d.UserAgent, d.Version, d.LastSync = r.deviceType, r.userAgent, ver, now.UTC()
	}
	return d, s.resolveAccess(ctx, &d)
}

// admit checks the device before a command runs. When it answers the request itself
// it leaves r.dev nil.
func (s *Server) admit(ctx context.Context, w http.ResponseWriter, r *request, cmd command) error {
	d, err := s.touchDevice(ctx, r)
	if err != nil {
		return err
	}
	if r.profile, err = s.enforced(ctx, r.user.ID); err != nil {
		return err
	}
	refuse := func(code commonStatus, legacyHTTP int) error {
		// 12.1, and commands without a WBXML answer, learn it from the HTTP status.
		if space, _ := commandRoot(r.cmd); r.version < 140 || space == "" {
			http.Error(w, http.StatusText(legacyHTTP), legacyHTTP)
			return nil
		}
		return s.writeCommonStatus(w, r, code)
	}
	switch {
	case d.Access == AccessBlock,
		d.Access == AccessQuarantine && !cmd.unprovisioned:
		s.log.Info("device refused", "user", r.user.Address, "device", r.deviceID, "access", d.Access, "by", d.AccessBy)
		return refuse(statusDeviceBlocked, http.StatusForbidden)
	case cmd.unprovisioned:
	case d.Wipe != WipeNone:
		return refuse(statusRemoteWipeRequested, statusNeedProvisioning)
	default:
		if code, ok := s.checkPolicyKey(r.policyKey, d, r.profile); !ok {
			return refuse(code, statusNeedProvisioning)
		}
	}
	r.dev = &d
	return nil
}

// statusNeedProvisioning is HTTP 449, "Retry after sending a PROVISION command",
// which 12.1 clients get instead of the 14.0 status codes 140–144.
const statusNeedProvisioning = 449
