package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/instance"
	"mailroom/internal/server"
)

// runAppPassword manages a user's app passwords, the per-client passwords of clients
// that cannot do OAuth (docs/authentication.md).
func runAppPassword(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "user app-password", []sub{
		{"add", appPasswordAdd},
		{"list", appPasswordList},
		{"revoke", appPasswordRevoke},
		{"password-with-mfa", appPasswordPolicy},
	}, args)
}

// withAuth runs fn with the instance's sign-in service and the user address names.
func withAuth(ctx context.Context, e *env, in *instance.Instance, address string, fn func(svc *auth.Service, u directory.User) error) error {
	svc, _, err := server.Auth(ctx, in, logger(e, levelWarn))
	if err != nil {
		return err
	}
	u, err := in.Directory.User(ctx, address)
	if err != nil {
		return err
	}
	return fn(svc, u)
}

// appPasswordOut is what "user app-password add --json" prints: the only time the
// password is shown.
type appPasswordOut struct {
	auth.AppPassword
	Address  string `json:"address"`
	Password string `json:"password"`
}

func appPasswordAdd(ctx context.Context, e *env, args []string) error {
	return withInstance(ctx, e, "user app-password add", "ADDRESS NAME", args, 2, 2, func(in *instance.Instance, pos []string, asJSON bool) error {
		return withAuth(ctx, e, in, pos[0], func(svc *auth.Service, u directory.User) error {
			ap, secret, err := svc.NewAppPassword(ctx, u.ID, pos[1])
			if err != nil {
				return err
			}
			out := appPasswordOut{AppPassword: ap, Address: u.Address, Password: secret}
			return emit(e, asJSON, out, func(w io.Writer) {
				fmt.Fprintf(w, "App password %q (id %d) for %s:\t%s\n", ap.Name, ap.ID, u.Address, secret)
				fmt.Fprintln(w, "Type it into the client as the password, with or without the dashes. It is shown only now.")
			})
		})
	})
}

func appPasswordList(ctx context.Context, e *env, args []string) error {
	return withInstance(ctx, e, "user app-password list", "ADDRESS", args, 1, 1, func(in *instance.Instance, pos []string, asJSON bool) error {
		return withAuth(ctx, e, in, pos[0], func(svc *auth.Service, u directory.User) error {
			list, err := svc.AppPasswords(ctx, u.ID)
			if err != nil {
				return err
			}
			return emit(e, asJSON, list, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tCREATED\tLAST USED")
				for _, ap := range list {
					used := "never"
					if !ap.LastUsed.IsZero() {
						used = ap.LastUsed.Format(time.DateTime)
					}
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", ap.ID, ap.Name, ap.Created.Format(time.DateTime), used)
				}
			})
		})
	})
}

func appPasswordRevoke(ctx context.Context, e *env, args []string) error {
	return withInstance(ctx, e, "user app-password revoke", "ADDRESS NAME|ID", args, 2, 2, func(in *instance.Instance, pos []string, asJSON bool) error {
		return withAuth(ctx, e, in, pos[0], func(svc *auth.Service, u directory.User) error {
			ap, err := svc.RevokeAppPassword(ctx, u.ID, pos[1])
			if err != nil {
				return err
			}
			return emit(e, asJSON, ap, func(w io.Writer) {
				fmt.Fprintf(w, "Revoked app password %q (id %d) of %s: refused from the next sign-in on.\n", ap.Name, ap.ID, u.Address)
			})
		})
	})
}

// policyOut is what "user app-password password-with-mfa --json" prints.
type policyOut struct {
	Address         string `json:"address"`
	PasswordWithMFA bool   `json:"passwordWithMfa"`
}

// appPasswordPolicy shows or sets whether the user's own password still opens the
// mail protocols once they have MFA (default: no, app passwords and tokens only).
func appPasswordPolicy(ctx context.Context, e *env, args []string) error {
	return withInstance(ctx, e, "user app-password password-with-mfa", "ADDRESS [on|off]", args, 1, 2, func(in *instance.Instance, pos []string, asJSON bool) error {
		return withAuth(ctx, e, in, pos[0], func(svc *auth.Service, u directory.User) error {
			if len(pos) == 2 {
				var allow bool
				switch pos[1] {
				case "on":
					allow = true
				case "off":
				default:
					return usageErr("password-with-mfa takes on or off, not %q", pos[1])
				}
				if err := svc.SetPasswordWithMFA(ctx, u.ID, allow); err != nil {
					return err
				}
			}
			allow, err := svc.PasswordWithMFA(ctx, u.ID)
			if err != nil {
				return err
			}
			out := policyOut{Address: u.Address, PasswordWithMFA: allow}
			return emit(e, asJSON, out, func(w io.Writer) {
				if allow {
					fmt.Fprintf(w, "%s may sign in to IMAP, POP3, SMTP and ActiveSync with their password even with MFA on.\n", u.Address)
				} else {
					fmt.Fprintf(w, "Once %s has MFA, IMAP, POP3, SMTP and ActiveSync take only app passwords and tokens.\n", u.Address)
				}
			})
		})
	})
}
