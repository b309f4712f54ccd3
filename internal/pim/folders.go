package pim

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"mailroom/internal/store"
)

// DefaultFolders are the folders every account gets on first use of a PIM protocol,
// one per role, at the top level. Further calendars, address books and task lists are
// folders below these, so what they hold follows from their top-level ancestor.
var DefaultFolders = []struct {
	Role store.Role
	Name string
}{
	{store.RoleCalendar, "Calendar"},
	{store.RoleContacts, "Contacts"},
	{store.RoleTasks, "Tasks"},
	{store.RoleNotes, "Notes"},
}

// Roles are the folder roles that hold PIM items rather than mail.
var Roles = []store.Role{store.RoleCalendar, store.RoleContacts, store.RoleTasks, store.RoleNotes}

// FolderStore is what EnsureFolders needs of the store.
type FolderStore interface {
	Folders(ctx context.Context, id store.AccountID) ([]store.Folder, error)
	CreateFolder(ctx context.Context, id store.AccountID, parent store.FolderID, name string, role store.Role) (store.Folder, error)
}

// EnsureFolders creates the account's missing PIM folders and returns every folder of
// the account. A mail folder that already has a default name leaves the PIM folder a
// numbered name ("Calendar 2"). It is safe to call on every request: it writes only
// when a folder is missing, and a concurrent creation of the same role is tolerated.
func EnsureFolders(ctx context.Context, st FolderStore, id store.AccountID) ([]store.Folder, error) {
	all, err := st.Folders(ctx, id)
	if err != nil {
		return nil, err
	}
	created := false
	for _, df := range DefaultFolders {
		if slices.ContainsFunc(all, func(f store.Folder) bool { return f.Role == df.Role }) {
			continue
		}
		for n := 1; n <= 20; n++ {
			name := df.Name
			if n > 1 {
				name = fmt.Sprintf("%s %d", df.Name, n)
			}
			_, err := st.CreateFolder(ctx, id, 0, name, df.Role)
			if err == nil {
				created = true
				break
			}
			if !errors.Is(err, store.ErrExists) {
				return nil, fmt.Errorf("create the %s folder: %w", df.Role, err)
			}
			// Either the name is taken or another request made the role folder first.
			now, ferr := st.Folders(ctx, id)
			if ferr != nil {
				return nil, ferr
			}
			if slices.ContainsFunc(now, func(f store.Folder) bool { return f.Role == df.Role }) {
				created = true
				break
			}
		}
	}
	if created {
		return st.Folders(ctx, id)
	}
	return all, nil
}

// RoleOf is the PIM role of folder f among the account's folders: its own role or its
// top-level ancestor's, or RoleNone for a mail folder.
func RoleOf(all []store.Folder, f store.Folder) store.Role {
	for range len(all) + 1 {
		if slices.Contains(Roles, f.Role) {
			return f.Role
		}
		if f.Parent == 0 {
			return store.RoleNone
		}
		i := slices.IndexFunc(all, func(p store.Folder) bool { return p.ID == f.Parent })
		if i < 0 {
			return store.RoleNone
		}
		f = all[i]
	}
	return store.RoleNone
}

// Collections returns the folders holding items of role: the role folder first, then
// the folders below it.
func Collections(all []store.Folder, role store.Role) []store.Folder {
	var out []store.Folder
	for _, f := range all {
		if RoleOf(all, f) == role {
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b store.Folder) int {
		if a.Role == role {
			return -1
		}
		if b.Role == role {
			return 1
		}
		return 0
	})
	return out
}
