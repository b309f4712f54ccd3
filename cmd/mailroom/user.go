package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"mailroom/internal/config"
	"mailroom/internal/directory"
	"mailroom/internal/instance"
	"mailroom/internal/store"
)

func runUser(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "user", []sub{
		{"add", userAdd},
		{"list", userList},
		{"show", userShow},
		{"set", userSet},
		{"passwd", userPasswd},
		{"disable", func(ctx context.Context, e *env, args []string) error { return userEnable(ctx, e, args, false) }},
		{"enable", func(ctx context.Context, e *env, args []string) error { return userEnable(ctx, e, args, true) }},
		{"remove", userRemove},
		{"app-password", runAppPassword},
	}, args)
}

// attrFlags are the directory attributes `user add` and `user set` take.
type attrFlags struct {
	displayName, givenName, surname, department, title, phone, upn, sam, quota *string
	admin                                                                      *bool
}

func addAttrFlags(f *flagSet) attrFlags {
	return attrFlags{
		displayName: f.String("display-name", "", "display name, as the address list shows it"),
		givenName:   f.String("given-name", "", "given name"),
		surname:     f.String("surname", "", "surname"),
		department:  f.String("department", "", "department"),
		title:       f.String("title", "", "job title"),
		phone:       f.String("phone", "", "telephone number"),
		upn:         f.String("upn", "", "user principal name (default: the address)"),
		sam:         f.String("sam", "", "sAMAccountName (default: the local part)"),
		quota:       f.String("quota", "", "mailbox quota such as 2GB or 500MiB; 0 means no limit"),
		admin:       f.Bool("admin", false, "make the user a Mailroom administrator"),
	}
}

func parseQuota(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := config.ParseSize(s)
	if err != nil {
		return 0, usageErr("--quota: %v", err)
	}
	return int64(n), nil
}

func userAdd(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "user add", "[--password-stdin] [--display-name NAME] [--upn UPN] [--sam NAME] [--quota SIZE] ADDRESS")
	fromStdin := f.Bool("password-stdin", false, "read the password from the first line of standard input")
	shared := f.Bool("shared", false, "create a shared mailbox (no password, no login) instead of a user")
	a := addAttrFlags(f)
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	quota, err := parseQuota(*a.quota)
	if err != nil {
		return err
	}
	nu := directory.NewUser{
		Address: pos[0], UPN: *a.upn, SAM: *a.sam, DisplayName: *a.displayName, GivenName: *a.givenName,
		Surname: *a.surname, Department: *a.department, Title: *a.title, Phone: *a.phone, Admin: *a.admin,
		Kind: directory.KindUser,
	}
	if *shared {
		nu.Kind = directory.KindShared
	} else if nu.Password, err = readPassword(e, *fromStdin); err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		u, err := addMailbox(ctx, in, nu, quota)
		if err != nil {
			return err
		}
		return emit(e, *f.json, u, func(w io.Writer) {
			fmt.Fprintf(w, "Added %s %s (UPN %s, %s\\%s).\n", u.Kind, u.Address, u.UPN, u.NetBIOS, u.SAM)
		})
	})
}

// addMailbox adds the directory entry and creates its mailbox; if the mailbox cannot be
// made, the directory entry goes again, so nothing is left half-made.
func addMailbox(ctx context.Context, in *instance.Instance, nu directory.NewUser, quota int64) (directory.User, error) {
	u, err := in.Directory.AddUser(ctx, nu)
	if err != nil {
		return u, err
	}
	_, err = in.Store.EnsureAccount(ctx, store.AccountID(u.ID))
	if err == nil && quota > 0 {
		err = in.Store.SetQuota(ctx, store.AccountID(u.ID), quota)
	}
	if err != nil {
		_, rerr := in.Directory.RemoveUser(ctx, u.Address)
		return u, errors.Join(fmt.Errorf("create mailbox of %s: %w", u.Address, err), rerr)
	}
	return u, nil
}

func userList(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "user list", "")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		users, err := in.Directory.Users(ctx)
		if err != nil {
			return err
		}
		if users == nil {
			users = []directory.User{}
		}
		return emit(e, *f.json, users, func(w io.Writer) {
			fmt.Fprintln(w, "ADDRESS\tKIND\tDISPLAY NAME\tENABLED\tALIASES")
			for _, u := range users {
				fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\n", u.Address, u.Kind, u.DisplayName, u.Enabled, strings.Join(u.Aliases, ","))
			}
		})
	})
}

// userDetails is what `user show` prints.
type userDetails struct {
	directory.User
	QuotaBytes int64             `json:"quotaBytes"`
	UsedBytes  int64             `json:"usedBytes"`
	Messages   int               `json:"messages"`
	Groups     []string          `json:"groups"`
	Grants     []directory.Grant `json:"grants"`
}

func userShow(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "user show", "ADDRESS")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		u, err := in.Directory.User(ctx, pos[0])
		if err != nil {
			return err
		}
		acct, err := in.Store.EnsureAccount(ctx, store.AccountID(u.ID))
		if err != nil {
			return err
		}
		groups, err := in.Directory.MemberOf(ctx, u.ID)
		if err != nil {
			return err
		}
		grants, err := in.Directory.GrantsTo(ctx, u.ID)
		if err != nil {
			return err
		}
		out := userDetails{User: u, QuotaBytes: acct.QuotaBytes, UsedBytes: acct.UsedBytes, Messages: acct.Messages, Groups: []string{}, Grants: grants}
		for _, g := range groups {
			out.Groups = append(out.Groups, g.Name)
		}
		if out.Grants == nil {
			out.Grants = []directory.Grant{}
		}
		return emit(e, *f.json, out, func(w io.Writer) {
			quota := "none"
			if acct.QuotaBytes > 0 {
				quota = config.Size(acct.QuotaBytes).String()
			}
			fmt.Fprintf(w, "Address:\t%s\nKind:\t%s\nAliases:\t%s\nUPN:\t%s\nLogon name:\t%s\\%s\nDisplay name:\t%s\n",
				u.Address, u.Kind, strings.Join(u.Aliases, ", "), u.UPN, u.NetBIOS, u.SAM, u.DisplayName)
			fmt.Fprintf(w, "Given name:\t%s\nSurname:\t%s\nDepartment:\t%s\nTitle:\t%s\nPhone:\t%s\n", u.GivenName, u.Surname, u.Department, u.Title, u.Phone)
			fmt.Fprintf(w, "Enabled:\t%v\nAdministrator:\t%v\nQuota:\t%s\nUsed:\t%s in %d messages\nGroups:\t%s\n",
				u.Enabled, u.Admin, quota, config.Size(acct.UsedBytes), acct.Messages, strings.Join(out.Groups, ", "))
			for _, g := range grants {
				fmt.Fprintf(w, "Grant:\t%v on %s\n", g.Rights, g.Mailbox.Address)
			}
		})
	})
}

func userSet(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "user set", "[--display-name NAME] [--upn UPN] [--sam NAME] [--quota SIZE] [--admin=true|false] ... ADDRESS")
	a := addAttrFlags(f)
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	var upd directory.UserUpdate
	pick := func(name string, v *string) *string {
		if set[name] {
			return v
		}
		return nil
	}
	upd.DisplayName = pick("display-name", a.displayName)
	upd.GivenName = pick("given-name", a.givenName)
	upd.Surname = pick("surname", a.surname)
	upd.Department = pick("department", a.department)
	upd.Title = pick("title", a.title)
	upd.Phone = pick("phone", a.phone)
	upd.UPN = pick("upn", a.upn)
	upd.SAM = pick("sam", a.sam)
	if set["admin"] {
		upd.Admin = a.admin
	}
	var quota int64
	if set["quota"] {
		if quota, err = parseQuota(*a.quota); err != nil {
			return err
		}
	}
	if len(set) == 0 || (len(set) == 1 && (set["data"] || set["json"])) {
		return usageErr("nothing to change: give at least one attribute flag")
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		u, err := in.Directory.UpdateUser(ctx, pos[0], upd)
		if err != nil {
			return err
		}
		if set["quota"] {
			if _, err := in.Store.EnsureAccount(ctx, store.AccountID(u.ID)); err != nil {
				return err
			}
			if err := in.Store.SetQuota(ctx, store.AccountID(u.ID), quota); err != nil {
				return err
			}
		}
		return emit(e, *f.json, u, func(w io.Writer) { fmt.Fprintf(w, "Updated %s.\n", u.Address) })
	})
}

func userPasswd(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "user passwd", "[--password-stdin] ADDRESS")
	fromStdin := f.Bool("password-stdin", false, "read the password from the first line of standard input")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	pw, err := readPassword(e, *fromStdin)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		if err := in.Directory.SetPassword(ctx, pos[0], pw); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Password of %s changed.\n", pos[0])
		return nil
	})
}

func userEnable(ctx context.Context, e *env, args []string, enable bool) error {
	verb := map[bool]string{true: "enable", false: "disable"}[enable]
	f := newFlags(e, "user "+verb, "ADDRESS")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		if err := in.Directory.SetEnabled(ctx, pos[0], enable); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s %sd.\n", pos[0], verb)
		return nil
	})
}

func userRemove(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "user remove", "ADDRESS")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		// The directory entry goes first so that no new mail is accepted for the address
		// while its mailbox is being removed.
		u, err := in.Directory.RemoveUser(ctx, pos[0])
		if err != nil {
			return err
		}
		if err := in.Store.RemoveAccount(ctx, store.AccountID(u.ID)); err != nil {
			return fmt.Errorf("%s left the directory, but its mailbox could not be removed: %w", u.Address, err)
		}
		fmt.Fprintf(e.stdout, "Removed %s and its mailbox.\n", u.Address)
		return nil
	})
}
