package activesync

// Provision follows [MS-ASPROV] 3.2.5.1 (two-phase policy download and
// acknowledgement, 2.2.2.28 EASProvisionDoc) and 3.1.5.1.2.2–3.1.5.1.2.3 (remote wipe
// and account-only remote wipe), with DeviceInformation inside Provision as
// [MS-ASCMD] 2.2.3.50 allows from 14.1.

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"mailroom/internal/wbxml"
)

// policyTypeWBXML is the only PolicyType of 12.0 and later ([MS-ASPROV] 2.2.2.43).
const policyTypeWBXML = "MS-EAS-Provisioning-WBXML"

// Policy is the security policy devices must apply. The zero Policy requires nothing
// and allows everything; DefaultPolicy returns the usual corporate baseline.
type Policy struct {
	PasswordRequired       bool `json:"passwordRequired"`
	AlphanumericPassword   bool `json:"alphanumericPassword"`
	DisallowSimplePassword bool `json:"disallowSimplePassword"` // no 1111 or 1234
	MinPasswordLength      int  `json:"minPasswordLength"`      // 0 or 1–16
	MinComplexCharacters   int  `json:"minComplexCharacters"`   // 0 or 1–4
	MaxFailedAttempts      int  `json:"maxFailedAttempts"`      // 0 (no limit) or 4–16
	PasswordExpirationDays int  `json:"passwordExpirationDays"` // 0: never
	PasswordHistory        int  `json:"passwordHistory"`
	// MaxInactivityLock locks the device after this much idle time; 0: no limit.
	MaxInactivityLock   time.Duration `json:"maxInactivityLock"`
	RequireEncryption   bool          `json:"requireEncryption"`
	MaxAttachmentSize   int64         `json:"maxAttachmentSize"` // bytes; 0: no limit
	DisallowAttachments bool          `json:"disallowAttachments"`
	DisallowStorageCard bool          `json:"disallowStorageCard"`
	DisallowCamera      bool          `json:"disallowCamera"`
	DisallowHTMLEmail   bool          `json:"disallowHTMLEmail"`
	// MaxEmailAgeFilter is the widest mail sync window a device may use: 0 all, 1 one
	// day, 2 three days, 3 a week, 4 two weeks, 5 a month.
	MaxEmailAgeFilter int `json:"maxEmailAgeFilter"`
}

// DefaultPolicy is a PIN of at least 4 digits, no simple PINs, lock after 15 minutes,
// wipe after 10 failed attempts, encrypted storage.
func DefaultPolicy() Policy {
	return Policy{
		PasswordRequired:       true,
		DisallowSimplePassword: true,
		MinPasswordLength:      4,
		MaxFailedAttempts:      10,
		MaxInactivityLock:      15 * time.Minute,
		RequireEncryption:      true,
	}
}

func (p Policy) validate() error {
	switch {
	case p.MinPasswordLength < 0 || p.MinPasswordLength > 16:
		return fmt.Errorf("%w: minimum password length %d is not 0–16", ErrInvalid, p.MinPasswordLength)
	case p.MinComplexCharacters < 0 || p.MinComplexCharacters > 4:
		return fmt.Errorf("%w: minimum complex characters %d is not 0–4", ErrInvalid, p.MinComplexCharacters)
	case p.MaxFailedAttempts != 0 && (p.MaxFailedAttempts < 4 || p.MaxFailedAttempts > 16):
		return fmt.Errorf("%w: maximum failed attempts %d is not 0 or 4–16", ErrInvalid, p.MaxFailedAttempts)
	case p.PasswordExpirationDays < 0 || p.PasswordHistory < 0 || p.MaxInactivityLock < 0 || p.MaxAttachmentSize < 0:
		return fmt.Errorf("%w: negative policy value", ErrInvalid)
	case p.MaxEmailAgeFilter < 0 || p.MaxEmailAgeFilter > 5:
		return fmt.Errorf("%w: maximum e-mail age filter %d is not 0–5", ErrInvalid, p.MaxEmailAgeFilter)
	}
	return nil
}

// keys derives the policy's temporary and final keys from its content and the user's
// profile requirements, so they stay the same for as long as both do: a device that
// provisions again gets the key it already has, and clients that compare keys do not
// loop. A new profile version changes them, which sends the user's devices back to
// Provision ([MS-ASPROV] 3.2.5.1). Without profile requirements they are the keys of
// the policy alone.
func (p Policy) keys(e Enforced) (temporary, final uint32) {
	h := func(prefix string) uint32 {
		f := fnv.New32a()
		fmt.Fprintf(f, "%s%+v", prefix, p)
		if e != (Enforced{}) {
			fmt.Fprintf(f, "%+v", e)
		}
		v := f.Sum32() & 0x7fffffff // clients parse the key as a signed 32-bit number
		if v == 0 {
			v = 1
		}
		return v
	}
	temporary, final = h("temporary:"), h("final:")
	if temporary == final {
		temporary ^= 1
	}
	return temporary, final
}

// checkPolicyKey says whether key, as a device sent it, is the final key of the
// current policy with the user's profile requirements e, and if not which status of
// [MS-ASCMD] 2.2.2 tells the device why.
func (s *Server) checkPolicyKey(key string, d Device, e Enforced) (commonStatus, bool) {
	_, final := s.policy.keys(e)
	k, err := strconv.ParseUint(key, 10, 32)
	switch {
	case err != nil || k == 0:
		return statusDeviceNotProvisioned, false
	case uint32(k) == final && d.PolicyKey == final:
		return 0, true
	case uint32(k) == d.PolicyKey:
		return statusPolicyRefresh, false // the device is current with a policy since changed
	}
	return statusInvalidPolicyKey, false
}

func boolText(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func intOrEmpty(v int64) string {
	if v == 0 {
		return ""
	}
	return strconv.FormatInt(v, 10)
}

// provisionDoc writes EASProvisionDoc ([MS-ASPROV] 2.2.2.28) with the user's profile
// requirements e; 12.1's additions go only to 12.1 and later, which is every version
// served.
func (p Policy) provisionDoc(parent *wbxml.Element, e Enforced) {
	doc := parent.Add(wbxml.NSProvision, "EASProvisionDoc")
	add := func(name, v string) { doc.AddText(wbxml.NSProvision, name, v) }
	add("DevicePasswordEnabled", boolText(p.PasswordRequired))
	add("AlphanumericDevicePasswordRequired", boolText(p.AlphanumericPassword))
	add("PasswordRecoveryEnabled", "0")
	add("RequireStorageCardEncryption", boolText(p.RequireEncryption))
	add("AttachmentsEnabled", boolText(!p.DisallowAttachments))
	add("MinDevicePasswordLength", intOrEmpty(int64(p.MinPasswordLength)))
	add("MaxInactivityTimeDeviceLock", intOrEmpty(int64(p.MaxInactivityLock/time.Second)))
	add("MaxDevicePasswordFailedAttempts", intOrEmpty(int64(p.MaxFailedAttempts)))
	add("MaxAttachmentSize", intOrEmpty(p.MaxAttachmentSize))
	add("AllowSimpleDevicePassword", boolText(!p.DisallowSimplePassword))
	add("DevicePasswordExpiration", intOrEmpty(int64(p.PasswordExpirationDays)))
	add("DevicePasswordHistory", strconv.Itoa(p.PasswordHistory))
	add("AllowStorageCard", boolText(!p.DisallowStorageCard))
	add("AllowCamera", boolText(!p.DisallowCamera))
	add("RequireDeviceEncryption", boolText(p.RequireEncryption))
	add("AllowUnsignedApplications", "1")
	add("AllowUnsignedInstallationPackages", "1")
	complexChars := p.MinComplexCharacters
	if complexChars == 0 {
		complexChars = 1
	}
	add("MinDevicePasswordComplexCharacters", strconv.Itoa(complexChars))
	add("AllowWiFi", "1")
	add("AllowTextMessaging", "1")
	add("AllowPOPIMAPEmail", "1")
	add("AllowBluetooth", "2")
	add("AllowIrDA", "1")
	add("RequireManualSyncWhenRoaming", "0")
	add("AllowDesktopSync", "1")
	add("MaxCalendarAgeFilter", "0")
	add("AllowHTMLEmail", boolText(!p.DisallowHTMLEmail))
	add("MaxEmailAgeFilter", strconv.Itoa(narrowerFilter(p.MaxEmailAgeFilter, e.MaxEmailAgeFilter)))
	add("MaxEmailBodyTruncationSize", "-1")
	add("MaxEmailHTMLBodyTruncationSize", "-1")
	// [MS-ASPROV] 2.2.2.51 and 2.2.2.47; the algorithms are SHA-1 and 3DES (2.2.2.50,
	// 2.2.2.48: 0 is the strongest each offers), negotiation allowed (2.2.2.13), and
	// soft certificates allowed (2.2.2.14): the S/MIME identity a profile carries is one.
	add("RequireSignedSMIMEMessages", boolText(e.RequireSignedSMIME))
	add("RequireEncryptedSMIMEMessages", boolText(e.RequireEncryptedSMIME))
	add("RequireSignedSMIMEAlgorithm", "0")
	add("RequireEncryptionSMIMEAlgorithm", "0")
	add("AllowSMIMEEncryptionAlgorithmNegotiation", "2")
	add("AllowSMIMESoftCerts", "1")
	add("AllowBrowser", "1")
	add("AllowConsumerEmail", "1")
	add("AllowRemoteDesktop", "1")
	add("AllowInternetSharing", "1")
}

// provision handles the Provision command.
func (s *Server) provision(ctx context.Context, w http.ResponseWriter, r *request) error {
	req, err := decodeBody(r)
	if err != nil {
		return err
	}
	resp := wbxml.New(wbxml.NSProvision, "Provision")
	status := resp.AddText(wbxml.NSProvision, "Status", text(provisionOK))
	acct, dev := r.account(), r.dev

	if info := req.Child(wbxml.NSSettings, "DeviceInformation"); info != nil {
		if err := s.saveDeviceInformation(ctx, r, info.Child(wbxml.NSSettings, "Set")); err != nil {
			return err
		}
		resp.Add(wbxml.NSSettings, "DeviceInformation").AddText(wbxml.NSSettings, "Status", text(settingsOK))
	}

	// The device reports the outcome of a wipe ([MS-ASPROV] 3.2.5.1.2.2).
	for _, name := range []string{"RemoteWipe", "AccountOnlyRemoteWipe"} {
		ack := req.Child(wbxml.NSProvision, name)
		if ack == nil {
			continue
		}
		pending := dev.Wipe == WipePending || dev.Wipe == WipePendingAccountOnly
		if ack.ChildText(wbxml.NSProvision, "Status") != "1" && pending {
			s.log.Warn("device reports failed wipe", "user", r.user.Address, "device", r.deviceID)
			status.Text = text(provisionProtocolError)
			resp.Add(wbxml.NSProvision, s.wipeDirective(r))
			return s.writeWBXML(w, resp)
		}
		if pending {
			done := WipeAcknowledged
			if dev.Wipe == WipePendingAccountOnly {
				done = WipeAcknowledgedAccountOnly
			}
			if err := s.updateDevice(ctx, acct, r.deviceID, `wipe = $3, wipe_acknowledged = $4`, string(done), s.micros()); err != nil {
				return err
			}
			s.log.Info("device acknowledged wipe", "user", r.user.Address, "device", r.deviceID, "wipe", done)
		}
		return s.writeWBXML(w, resp)
	}

	// A device that was told to wipe is told again, whatever it asks, until an
	// administrator removes the partnership.
	if dev.Wipe != WipeNone {
		resp.Add(wbxml.NSProvision, s.wipeDirective(r))
		return s.writeWBXML(w, resp)
	}

	policy := req.Child(wbxml.NSProvision, "Policies").Child(wbxml.NSProvision, "Policy")
	if policy == nil {
		status.Text = text(provisionProtocolError)
		return s.writeWBXML(w, resp)
	}
	out := resp.Add(wbxml.NSProvision, "Policies").Add(wbxml.NSProvision, "Policy")
	ptype := policy.ChildText(wbxml.NSProvision, "PolicyType")
	out.AddText(wbxml.NSProvision, "PolicyType", ptype)
	if ptype != policyTypeWBXML {
		out.AddText(wbxml.NSProvision, "Status", text(policyUnknownType))
		return s.writeWBXML(w, resp)
	}
	temporary, final := s.policy.keys(r.profile)
	if key := policy.Child(wbxml.NSProvision, "PolicyKey"); key != nil {
		// Phase two: the acknowledgement of the temporary key gets the final one.
		k, err := strconv.ParseUint(key.Text, 10, 32)
		if err != nil || (uint32(k) != temporary && uint32(k) != final) {
			out.AddText(wbxml.NSProvision, "Status", text(policyWrongKey))
			return s.writeWBXML(w, resp)
		}
		ackStatus, _ := strconv.Atoi(policy.ChildText(wbxml.NSProvision, "Status"))
		// The device now holds the policy of this profile version; it has not synced
		// under it yet.
		if err := s.updateDevice(ctx, acct, r.deviceID, `policy_key = $3, policy_status = $4, profile_policy = $5, policy_synced = 0`,
			int64(final), ackStatus, r.profile.PolicyVersion); err != nil {
			return err
		}
		out.AddText(wbxml.NSProvision, "Status", text(policyOK))
		out.AddText(wbxml.NSProvision, "PolicyKey", strconv.FormatUint(uint64(final), 10))
		return s.writeWBXML(w, resp)
	}
	// Phase one: the policy with a temporary key.
	out.AddText(wbxml.NSProvision, "Status", text(policyOK))
	out.AddText(wbxml.NSProvision, "PolicyKey", strconv.FormatUint(uint64(temporary), 10))
	s.policy.provisionDoc(out.Add(wbxml.NSProvision, "Data"), r.profile)
	return s.writeWBXML(w, resp)
}

// wipeDirective names the element that orders the pending wipe. AccountOnlyRemoteWipe
// exists from 16.1; Wipe refuses it for older devices, so this only guards a device
// that has since moved back to an older version: it gets a full wipe's name only if
// a full wipe was asked for.
func (s *Server) wipeDirective(r *request) string {
	if (r.dev.Wipe == WipePendingAccountOnly || r.dev.Wipe == WipeAcknowledgedAccountOnly) && r.version >= 161 {
		return "AccountOnlyRemoteWipe"
	}
	return "RemoteWipe"
}

// saveDeviceInformation records settings:DeviceInformation/Set ([MS-ASCMD] 2.2.3.50).
func (s *Server) saveDeviceInformation(ctx context.Context, r *request, set *wbxml.Element) error {
	if set == nil {
		return nil
	}
	get := func(name string) string { return clipText(set.ChildText(wbxml.NSSettings, name), 256) }
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE activesync_devices SET model = $3, imei = $4, friendly_name = $5,
			os = $6, os_language = $7, phone_number = $8, mobile_operator = $9,
			user_agent = CASE WHEN $10 = '' THEN user_agent ELSE $10 END
			WHERE account = $1 AND device_id = $2`,
			int64(r.account()), r.deviceID, get("Model"), get("IMEI"), get("FriendlyName"), get("OS"),
			get("OSLanguage"), get("PhoneNumber"), get("MobileOperator"), get("UserAgent"))
		if err != nil {
			return fmt.Errorf("device information of %s: %w", r.deviceID, err)
		}
		return nil
	})
}

// clipText cuts s to at most n bytes on a rune boundary.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
