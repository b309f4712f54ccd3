package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"mailroom/internal/instance"
	"mailroom/internal/oauth"
)

// runMFA manages the second factor of sign-in (docs/oauth.md): who must use one, what
// a user has enrolled, and a reset for a user who lost their authenticator.
func runMFA(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "mfa", []sub{
		{"require", mfaRequire},
		{"status", mfaStatus},
		{"reset", mfaReset},
	}, args)
}

func mfaRequire(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "mfa require", "--user ADDRESS | --group NAME [--off]")
	user := f.String("user", "", "require a second factor of this user")
	group := f.String("group", "", "require a second factor of every member of this group (nested groups included)")
	off := f.Bool("off", false, "lift the requirement instead")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	if (*user == "") == (*group == "") {
		return usageErr("give exactly one of --user and --group")
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		st, err := oauth.Open(ctx, in.DB, nil)
		if err != nil {
			return err
		}
		var id int64
		var kind, name string
		if *user != "" {
			u, err := in.Directory.User(ctx, *user)
			if err != nil {
				return err
			}
			id, kind, name = u.ID, oauth.RequireUser, u.Address
		} else {
			g, err := in.Directory.Group(ctx, *group)
			if err != nil {
				return err
			}
			id, kind, name = g.ID, oauth.RequireGroup, "every member of group "+g.Name
		}
		if err := st.SetMFARequired(ctx, id, kind, !*off); err != nil {
			return err
		}
		if *off {
			fmt.Fprintf(e.stdout, "A second factor is no longer required of %s (other requirements still apply).\n", name)
		} else {
			fmt.Fprintf(e.stdout, "A second factor is now required of %s; who has none enrols at the next sign-in.\n", name)
		}
		return nil
	})
}

// mfaStatusOut is what "mfa status --json" prints.
type mfaStatusOut struct {
	Address string `json:"address"`
	oauth.MFAStatus
	Required         bool     `json:"required"`
	RequiredByGroups []string `json:"requiredByGroups,omitempty"`
}

func mfaStatus(ctx context.Context, e *env, args []string) error {
	return withInstance(ctx, e, "mfa status", "ADDRESS", args, 1, 1, func(in *instance.Instance, pos []string, asJSON bool) error {
		st, err := oauth.Open(ctx, in.DB, nil)
		if err != nil {
			return err
		}
		u, err := in.Directory.User(ctx, pos[0])
		if err != nil {
			return err
		}
		groups, err := in.Directory.MemberOf(ctx, u.ID)
		if err != nil {
			return err
		}
		ids := make([]int64, len(groups))
		names := map[int64]string{}
		for i, g := range groups {
			ids[i], names[g.ID] = g.ID, g.Name
		}
		s, err := st.Status(ctx, u.ID, ids)
		if err != nil {
			return err
		}
		out := mfaStatusOut{Address: u.Address, MFAStatus: s, Required: s.Required()}
		for _, id := range s.RequiredByGroups {
			out.RequiredByGroups = append(out.RequiredByGroups, names[id])
		}
		return emit(e, asJSON, out, func(w io.Writer) {
			fmt.Fprintf(w, "User:\t%s\n", out.Address)
			if out.Enrolled {
				fmt.Fprintf(w, "Second factor:\tTOTP, since %s\n", out.EnrolledAt.Format("2006-01-02 15:04"))
				fmt.Fprintf(w, "Recovery codes left:\t%d\n", out.RecoveryCodesLeft)
			} else {
				fmt.Fprintf(w, "Second factor:\tnone\n")
			}
			var why []string
			if out.RequiredForUser {
				why = append(why, "for the user")
			}
			for _, g := range out.RequiredByGroups {
				why = append(why, "by group "+g)
			}
			if len(why) == 0 {
				fmt.Fprintf(w, "Required:\tno\n")
			} else {
				fmt.Fprintf(w, "Required:\tyes (%s)\n", strings.Join(why, ", "))
			}
		})
	})
}

func mfaReset(ctx context.Context, e *env, args []string) error {
	return withInstance(ctx, e, "mfa reset", "ADDRESS", args, 1, 1, func(in *instance.Instance, pos []string, _ bool) error {
		st, err := oauth.Open(ctx, in.DB, nil)
		if err != nil {
			return err
		}
		u, err := in.Directory.User(ctx, pos[0])
		if err != nil {
			return err
		}
		if err := st.ResetMFA(ctx, u.ID); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Removed the second factor and recovery codes of %s; if one is required, they enrol again at the next sign-in.\n", u.Address)
		return nil
	})
}
