package profiles

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"howett.net/plist"
)

// VPN is a per-app VPN profile registered with Mailroom. E-mail profiles name it by
// Name; the account refers to it on the device by VPNUUID. Mailroom does not deliver
// the VPN itself: the device gets it from whoever manages the VPN.
type VPN struct {
	Name        string    `json:"name"`
	PayloadUUID string    `json:"payloadUuid"`
	VPNUUID     string    `json:"vpnUuid"`
	Created     time.Time `json:"created"`
	// Payload is the plist as imported.
	Payload string `json:"-"`
}

// AddVPN registers a per-app VPN from its plist (XML), a whole configuration profile
// or one payload dictionary. It must hold exactly one payload with a VPNUUID (a
// com.apple.vpn.managed.applayer payload), whose VPNUUID and PayloadUUID are kept.
func (s *Service) AddVPN(ctx context.Context, name string, data []byte) (VPN, error) {
	n, err := checkName("VPN profile", name)
	if err != nil {
		return VPN{}, err
	}
	v, err := parseVPN(data)
	if err != nil {
		return VPN{}, err
	}
	v.Name, v.Payload, v.Created = n, string(data), s.now().UTC().Truncate(time.Microsecond)
	err = s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO vpn_profiles (name_key, name, payload_uuid, vpn_uuid, payload, created)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name_key) DO NOTHING`,
			strings.ToLower(n), n, v.PayloadUUID, v.VPNUUID, v.Payload, v.Created.UnixMicro())
		if err != nil {
			return fmt.Errorf("add VPN profile %s: %w", n, err)
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			return fmt.Errorf("%w: a VPN profile named %q", ErrExists, n)
		}
		return nil
	})
	if err != nil {
		return VPN{}, err
	}
	return v, nil
}

func parseVPN(data []byte) (VPN, error) {
	var top map[string]any
	format, err := plist.Unmarshal(data, &top)
	if err != nil {
		return VPN{}, fmt.Errorf("%w: VPN profile is not a property list: %w", ErrInvalid, err)
	}
	if format != plist.XMLFormat {
		return VPN{}, fmt.Errorf("%w: VPN profile is a binary plist; convert it with 'plutil -convert xml1'", ErrInvalid)
	}
	dicts := []map[string]any{top}
	if content, ok := top["PayloadContent"].([]any); ok {
		dicts = nil
		for _, c := range content {
			if d, ok := c.(map[string]any); ok {
				dicts = append(dicts, d)
			}
		}
	}
	var found []VPN
	for _, d := range dicts {
		vu, _ := d["VPNUUID"].(string)
		if vu == "" {
			continue
		}
		pu, _ := d["PayloadUUID"].(string)
		found = append(found, VPN{PayloadUUID: pu, VPNUUID: vu})
	}
	switch len(found) {
	case 0:
		return VPN{}, fmt.Errorf("%w: VPN profile has no payload with a VPNUUID; per-account VPN needs a per-app VPN (com.apple.vpn.managed.applayer)", ErrInvalid)
	case 1:
		return found[0], nil
	}
	return VPN{}, fmt.Errorf("%w: VPN profile has %d payloads with a VPNUUID; import each on its own", ErrInvalid, len(found))
}

func vpnByName(ctx context.Context, q querier, name string) (VPN, error) {
	var v VPN
	var created int64
	err := q.QueryRowContext(ctx, `SELECT name, payload_uuid, vpn_uuid, payload, created FROM vpn_profiles WHERE name_key = $1`,
		strings.ToLower(strings.TrimSpace(name))).Scan(&v.Name, &v.PayloadUUID, &v.VPNUUID, &v.Payload, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return VPN{}, fmt.Errorf("%w: no VPN profile named %q", ErrNotFound, name)
	}
	if err != nil {
		return VPN{}, fmt.Errorf("read VPN profile %s: %w", name, err)
	}
	v.Created = fromMicros(created)
	return v, nil
}

// VPN returns the registered VPN profile with the given name.
func (s *Service) VPN(ctx context.Context, name string) (VPN, error) {
	return vpnByName(ctx, s.db.Read(), name)
}

// VPNs returns every registered VPN profile, by name.
func (s *Service) VPNs(ctx context.Context) ([]VPN, error) {
	rows, err := s.db.Read().QueryContext(ctx, `SELECT name_key FROM vpn_profiles ORDER BY name_key`)
	if err != nil {
		return nil, fmt.Errorf("list VPN profiles: %w", err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list VPN profiles: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list VPN profiles: %w", err)
	}
	out := []VPN{}
	for _, k := range keys {
		v, err := s.VPN(ctx, k)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// RemoveVPN unregisters a VPN profile, refused while the current version of an e-mail
// profile names it.
func (s *Service) RemoveVPN(ctx context.Context, name string) error {
	return s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		v, err := vpnByName(ctx, tx, name)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT p.name, v.settings FROM email_profiles p
			JOIN email_profile_versions v ON v.profile = p.name_key AND v.version = p.current_version`)
		if err != nil {
			return fmt.Errorf("remove VPN profile %s: %w", v.Name, err)
		}
		var users []string
		for rows.Next() {
			var pname, body string
			if err := rows.Scan(&pname, &body); err != nil {
				rows.Close()
				return fmt.Errorf("remove VPN profile %s: %w", v.Name, err)
			}
			st, err := decodeSettings(body)
			if err != nil {
				rows.Close()
				return fmt.Errorf("profile %s: %w", pname, err)
			}
			if strings.EqualFold(st.VPN, v.Name) {
				users = append(users, pname)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("remove VPN profile %s: %w", v.Name, err)
		}
		if len(users) > 0 {
			return fmt.Errorf("%w: VPN profile %s is named by e-mail profile %s", ErrInUse, v.Name, strings.Join(users, ", "))
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM vpn_profiles WHERE name_key = $1`, strings.ToLower(v.Name))
		if err != nil {
			return fmt.Errorf("remove VPN profile %s: %w", v.Name, err)
		}
		return nil
	})
}
