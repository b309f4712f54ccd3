package directory

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Kind is the kind of a principal that has a mailbox.
type Kind string

// Kinds of mailbox principal. Groups are principals too but have no mailbox.
const (
	KindUser   Kind = "user"
	KindShared Kind = "shared" // a shared mailbox: no password, never logs in
	kindGroup  Kind = "group"
)

func (k Kind) noun() string {
	if k == KindShared {
		return "shared mailbox"
	}
	return string(k)
}

// User is a user or shared mailbox. ID is also the mailbox's account id in the store.
type User struct {
	ID          int64     `json:"id"`
	Kind        Kind      `json:"kind"`
	Address     string    `json:"address"`
	Aliases     []string  `json:"aliases,omitempty"`
	UPN         string    `json:"upn"`
	SAM         string    `json:"sam"`
	Domain      string    `json:"domain"` // the primary address's domain
	NetBIOS     string    `json:"netbios"`
	DisplayName string    `json:"displayName"`
	GivenName   string    `json:"givenName,omitempty"`
	Surname     string    `json:"surname,omitempty"`
	Department  string    `json:"department,omitempty"`
	Title       string    `json:"title,omitempty"`
	Phone       string    `json:"phone,omitempty"`
	Enabled     bool      `json:"enabled"`
	Admin       bool      `json:"admin"`
	Created     time.Time `json:"created"`
}

// NewUser describes a user or shared mailbox to create. Empty UPN, SAM and DisplayName
// are derived from the address; an empty Kind is KindUser.
type NewUser struct {
	Address     string `json:"address"`
	Password    string `json:"password,omitempty"`
	UPN         string `json:"upn,omitempty"`
	SAM         string `json:"sam,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	GivenName   string `json:"givenName,omitempty"`
	Surname     string `json:"surname,omitempty"`
	Department  string `json:"department,omitempty"`
	Title       string `json:"title,omitempty"`
	Phone       string `json:"phone,omitempty"`
	Admin       bool   `json:"admin,omitempty"`
	Kind        Kind   `json:"kind,omitempty"`
}

// UserUpdate lists attributes to change; nil fields stay as they are.
type UserUpdate struct {
	DisplayName *string `json:"displayName,omitempty"`
	GivenName   *string `json:"givenName,omitempty"`
	Surname     *string `json:"surname,omitempty"`
	Department  *string `json:"department,omitempty"`
	Title       *string `json:"title,omitempty"`
	Phone       *string `json:"phone,omitempty"`
	UPN         *string `json:"upn,omitempty"`
	SAM         *string `json:"sam,omitempty"`
	Admin       *bool   `json:"admin,omitempty"`
}

// AddUser creates a user or shared mailbox. Everything is validated before anything
// is written, and the principal and its address are written in one transaction.
func (d *Directory) AddUser(ctx context.Context, nu NewUser) (User, error) {
	kind := nu.Kind
	if kind == "" {
		kind = KindUser
	}
	if kind != KindUser && kind != KindShared {
		return User{}, fmt.Errorf("%w: kind %q is neither %q nor %q", ErrInvalid, nu.Kind, KindUser, KindShared)
	}
	addr, err := ParseAddress(strings.TrimSpace(nu.Address))
	if err != nil {
		return User{}, err
	}
	upn := addr.String()
	if nu.UPN != "" {
		if upn, err = checkUPN(nu.UPN); err != nil {
			return User{}, err
		}
	}
	sam := nu.SAM
	if sam == "" {
		if sam = deriveSAM(addr.Local); sam == "" {
			return User{}, fmt.Errorf("%w: no sAMAccountName can be derived from %q; give one", ErrInvalid, addr.Local)
		}
	} else if sam, err = checkSAM(sam); err != nil {
		return User{}, err
	}
	fields := []struct {
		name string
		v    *string
	}{
		{"display name", &nu.DisplayName}, {"given name", &nu.GivenName}, {"surname", &nu.Surname},
		{"department", &nu.Department}, {"title", &nu.Title}, {"phone", &nu.Phone},
	}
	for _, f := range fields {
		if *f.v, err = checkText(f.name, *f.v); err != nil {
			return User{}, err
		}
	}
	if nu.DisplayName == "" {
		nu.DisplayName = strings.TrimSpace(nu.GivenName + " " + nu.Surname)
	}
	if nu.DisplayName == "" {
		nu.DisplayName = addr.Local
	}
	if kind == KindShared {
		if nu.Password != "" {
			return User{}, fmt.Errorf("%w: shared mailbox %s cannot have a password; grant users access instead", ErrInvalid, addr)
		}
		if nu.Admin {
			return User{}, fmt.Errorf("%w: shared mailbox %s cannot be an administrator, as it never logs in", ErrInvalid, addr)
		}
	} else if err := checkPassword(nu.Password, addr.Local); err != nil {
		return User{}, err
	}

	check := func(q querier) error {
		if _, err := domainByName(ctx, q, addr.Domain); err != nil {
			return err
		}
		if err := checkAddressFree(ctx, q, addr.String(), 0); err != nil {
			return err
		}
		if err := checkUPNFree(ctx, q, strings.ToLower(upn), 0); err != nil {
			return err
		}
		return checkSAMFree(ctx, q, addr.Domain, strings.ToLower(sam), 0)
	}
	// Check first outside the write lock, so a duplicate is refused before the
	// expensive hashing; the transaction checks again for a racing writer.
	if err := check(d.db.Read()); err != nil {
		return User{}, err
	}
	hash := ""
	if kind == KindUser {
		if hash, err = d.HashPassword(ctx, nu.Password); err != nil {
			return User{}, err
		}
	}
	var id int64
	err = d.serialTx(ctx, func(tx *sql.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		if id, err = nextID(ctx, tx); err != nil {
			return err
		}
		now := d.micros()
		_, err = tx.ExecContext(ctx, `INSERT INTO principals (id, kind, domain, upn, upn_key, sam, sam_key,
			display_name, given_name, surname, department, title, phone, enabled, admin, password_hash, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 1, $14, $15, $16)`,
			id, string(kind), addr.Domain, upn, strings.ToLower(upn), sam, strings.ToLower(sam),
			nu.DisplayName, nu.GivenName, nu.Surname, nu.Department, nu.Title, nu.Phone,
			boolInt(nu.Admin), hash, now)
		if err != nil {
			return fmt.Errorf("add %s %s: %w", kind.noun(), addr, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO addresses (address, principal_id, domain, is_primary)
			VALUES ($1, $2, $3, 1)`, addr.String(), id, addr.Domain)
		if err != nil {
			return fmt.Errorf("add %s %s: %w", kind.noun(), addr, err)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return d.UserByID(ctx, id)
}

// User returns the user or shared mailbox with the given primary address, alias, UPN
// or DOMAIN\sam, case-insensitively.
func (d *Directory) User(ctx context.Context, key string) (User, error) {
	ref, err := findMailbox(ctx, d.db.Read(), key)
	if err != nil {
		return User{}, err
	}
	return userByID(ctx, d.db.Read(), ref.id)
}

// UserByID returns the user or shared mailbox with the given id.
func (d *Directory) UserByID(ctx context.Context, id int64) (User, error) {
	return userByID(ctx, d.db.Read(), id)
}

func userByID(ctx context.Context, q querier, id int64) (User, error) {
	us, _, err := queryUsers(ctx, q, `p.id = $1`, id)
	if err != nil {
		return User{}, err
	}
	if len(us) == 0 {
		return User{}, fmt.Errorf("%w: no user or shared mailbox with id %d", ErrNotFound, id)
	}
	return us[0], nil
}

// Users lists all users and shared mailboxes by primary address.
func (d *Directory) Users(ctx context.Context) ([]User, error) {
	us, _, err := queryUsers(ctx, d.db.Read(), `1 = 1`)
	return us, err
}

const userColumns = `p.id, p.kind, p.domain, d.netbios, a.address, p.upn, p.sam, p.display_name,
	p.given_name, p.surname, p.department, p.title, p.phone, p.enabled, p.admin, p.password_hash, p.created`

// queryUsers returns the users and shared mailboxes matching cond, an SQL condition on
// principals p with arguments args, ordered by primary address, with their aliases;
// and their password hashes by id, for login.
func queryUsers(ctx context.Context, q querier, cond string, args ...any) ([]User, map[int64]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+userColumns+` FROM principals p
		JOIN domains d ON d.name = p.domain
		JOIN addresses a ON a.principal_id = p.id AND a.is_primary = 1
		WHERE p.kind IN ('user', 'shared') AND (`+cond+`) ORDER BY a.address`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("read users: %w", err)
	}
	defer rows.Close()
	var users []User
	hashes := map[int64]string{}
	index := map[int64]int{}
	for rows.Next() {
		var u User
		var enabled, admin int
		var created int64
		var hash string
		err := rows.Scan(&u.ID, &u.Kind, &u.Domain, &u.NetBIOS, &u.Address, &u.UPN, &u.SAM, &u.DisplayName,
			&u.GivenName, &u.Surname, &u.Department, &u.Title, &u.Phone, &enabled, &admin, &hash, &created)
		if err != nil {
			return nil, nil, fmt.Errorf("read users: %w", err)
		}
		u.Enabled, u.Admin, u.Created = enabled != 0, admin != 0, fromMicros(created)
		hashes[u.ID] = hash
		index[u.ID] = len(users)
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read users: %w", err)
	}
	if len(users) == 0 {
		return nil, hashes, nil
	}
	aliases, err := queryAliases(ctx, q, `p.kind IN ('user', 'shared') AND (`+cond+`)`, args...)
	if err != nil {
		return nil, nil, err
	}
	for id, as := range aliases {
		if i, ok := index[id]; ok {
			users[i].Aliases = as
		}
	}
	return users, hashes, nil
}

// queryAliases returns the aliases (addresses that are not primary) of the principals
// p matching cond, sorted, by principal id.
func queryAliases(ctx context.Context, q querier, cond string, args ...any) (map[int64][]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT x.principal_id, x.address FROM addresses x
		JOIN principals p ON p.id = x.principal_id
		WHERE x.is_primary = 0 AND (`+cond+`) ORDER BY x.address`, args...)
	if err != nil {
		return nil, fmt.Errorf("read aliases: %w", err)
	}
	defer rows.Close()
	out := map[int64][]string{}
	for rows.Next() {
		var id int64
		var a string
		if err := rows.Scan(&id, &a); err != nil {
			return nil, fmt.Errorf("read aliases: %w", err)
		}
		out[id] = append(out[id], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read aliases: %w", err)
	}
	return out, nil
}

// UpdateUser changes the attributes set in u of the user or shared mailbox key.
func (d *Directory) UpdateUser(ctx context.Context, key string, u UserUpdate) (User, error) {
	var sets []string
	var args []any
	set := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	texts := []struct {
		field, col string
		v          *string
	}{
		{"display name", "display_name", u.DisplayName}, {"given name", "given_name", u.GivenName},
		{"surname", "surname", u.Surname}, {"department", "department", u.Department},
		{"title", "title", u.Title}, {"phone", "phone", u.Phone},
	}
	for _, t := range texts {
		if t.v == nil {
			continue
		}
		v, err := checkText(t.field, *t.v)
		if err != nil {
			return User{}, err
		}
		if t.col == "display_name" && v == "" {
			return User{}, fmt.Errorf("%w: the display name cannot be empty", ErrInvalid)
		}
		set(t.col, v)
	}
	var upn, sam string
	var err error
	if u.UPN != nil {
		if upn, err = checkUPN(*u.UPN); err != nil {
			return User{}, err
		}
		set("upn", upn)
		set("upn_key", strings.ToLower(upn))
	}
	if u.SAM != nil {
		if sam, err = checkSAM(*u.SAM); err != nil {
			return User{}, err
		}
		set("sam", sam)
		set("sam_key", strings.ToLower(sam))
	}
	if u.Admin != nil {
		set("admin", boolInt(*u.Admin))
	}
	var id int64
	err = d.serialTx(ctx, func(tx *sql.Tx) error {
		ref, err := findMailbox(ctx, tx, key)
		if err != nil {
			return err
		}
		id = ref.id
		cur, err := userByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if ref.kind == KindShared && u.Admin != nil && *u.Admin {
			return fmt.Errorf("%w: shared mailbox %s cannot be an administrator, as it never logs in", ErrInvalid, cur.Address)
		}
		if u.UPN != nil {
			if err := checkUPNFree(ctx, tx, strings.ToLower(upn), id); err != nil {
				return err
			}
		}
		if u.SAM != nil {
			if err := checkSAMFree(ctx, tx, cur.Domain, strings.ToLower(sam), id); err != nil {
				return err
			}
		}
		if len(sets) == 0 {
			return nil
		}
		args = append(args, id)
		_, err = tx.ExecContext(ctx, `UPDATE principals SET `+strings.Join(sets, ", ")+
			fmt.Sprintf(` WHERE id = $%d`, len(args)), args...)
		if err != nil {
			return fmt.Errorf("update %s: %w", cur.Address, err)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return d.UserByID(ctx, id)
}

// SetPassword sets the password of user key, after the password policy accepts it.
// Cached logins with the old password stop working at once, since the cache is keyed
// by the stored hash.
func (d *Directory) SetPassword(ctx context.Context, key, password string) error {
	u, err := d.User(ctx, key)
	if err != nil {
		return err
	}
	if u.Kind == KindShared {
		return fmt.Errorf("%w: shared mailbox %s cannot have a password; grant users access instead", ErrInvalid, u.Address)
	}
	local, _, _ := strings.Cut(u.Address, "@")
	if err := checkPassword(password, local); err != nil {
		return err
	}
	hash, err := d.HashPassword(ctx, password)
	if err != nil {
		return err
	}
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE principals SET password_hash = $1 WHERE id = $2 AND kind = 'user'`, hash, u.ID)
		if err != nil {
			return fmt.Errorf("set password of %s: %w", u.Address, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("set password of %s: %w", u.Address, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: user %s was removed meanwhile", ErrNotFound, u.Address)
		}
		return nil
	})
}

// SetEnabled enables or disables user key. A disabled user cannot log in and gets no
// mail through groups.
func (d *Directory) SetEnabled(ctx context.Context, key string, enabled bool) error {
	return d.serialTx(ctx, func(tx *sql.Tx) error {
		ref, err := findMailbox(ctx, tx, key)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE principals SET enabled = $1 WHERE id = $2`, boolInt(enabled), ref.id); err != nil {
			return fmt.Errorf("set enabled of %q: %w", key, err)
		}
		return nil
	})
}

// RemoveUser removes a user or shared mailbox with its aliases, group memberships and
// the grants on and to it, and returns what it was.
func (d *Directory) RemoveUser(ctx context.Context, key string) (User, error) {
	var u User
	err := d.serialTx(ctx, func(tx *sql.Tx) error {
		ref, err := findMailbox(ctx, tx, key)
		if err != nil {
			return err
		}
		if u, err = userByID(ctx, tx, ref.id); err != nil {
			return err
		}
		// The foreign keys cascade to addresses, group_members and mailbox_grants.
		if _, err := tx.ExecContext(ctx, `DELETE FROM principals WHERE id = $1`, ref.id); err != nil {
			return fmt.Errorf("remove %s: %w", u.Address, err)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}
