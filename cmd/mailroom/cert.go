package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/instance"
	"mailroom/internal/pki"
	"mailroom/internal/scep"
	"mailroom/internal/server"
)

// runCert is the built-in CA's administration: SCEP challenges, the certificates
// issued, revocation (docs/certificates.md). "profile cert" is the same command.
func runCert(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "cert", []sub{
		{"challenge", certChallenge},
		{"list", certList},
		{"revoke", certRevoke},
	}, args)
}

// challengeOut is what "cert challenge --json" prints.
type challengeOut struct {
	Address   string    `json:"address"`
	Challenge string    `json:"challenge"`
	Expires   time.Time `json:"expires"`
	URL       string    `json:"url"`
}

func certChallenge(ctx context.Context, e *env, args []string) error {
	return withInstance(ctx, e, "cert challenge", "ADDRESS", args, 1, 1, func(in *instance.Instance, pos []string, asJSON bool) error {
		u, err := in.Directory.User(ctx, pos[0])
		if err != nil {
			return err
		}
		if u.Kind != directory.KindUser || !u.Enabled {
			return fmt.Errorf("%s cannot sign in, so gets no sign-in certificate", u.Address)
		}
		ch, err := scep.OpenChallenges(ctx, in.DB, 0, nil)
		if err != nil {
			return err
		}
		pw, expires, err := ch.NewChallenge(ctx, pki.Subject{UserID: u.ID, Address: u.Address, Name: u.DisplayName})
		if err != nil {
			return err
		}
		out := challengeOut{Address: u.Address, Challenge: pw, Expires: expires.UTC(), URL: server.Enrolment(in.Config).SCEP}
		return emit(e, asJSON, out, func(w io.Writer) {
			fmt.Fprintf(w, "SCEP challenge for %s:\t%s\n", out.Address, out.Challenge)
			fmt.Fprintf(w, "Valid once, until:\t%s\n", out.Expires.Format(time.RFC3339))
			if out.URL != "" {
				fmt.Fprintf(w, "SCEP URL:\t%s\n", out.URL)
			}
		})
	})
}

func certList(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "cert list", "[ADDRESS]")
	user := f.String("user", "", "only this user's certificates (the same as ADDRESS)")
	pos, err := f.parse(args, 0, 1)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		if *user != "" {
			return usageErr("give the user as ADDRESS or --user, not both")
		}
		*user = pos[0]
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		_, ca, err := server.Profiles(ctx, in)
		if err != nil {
			return err
		}
		var id int64
		if *user != "" {
			u, err := in.Directory.User(ctx, *user)
			if err != nil {
				return err
			}
			id = u.ID
		}
		cs, err := ca.List(ctx, id)
		if err != nil {
			return err
		}
		if cs == nil {
			cs = []pki.Issued{}
		}
		return emit(e, *f.json, cs, func(w io.Writer) {
			fmt.Fprintln(w, "SERIAL\tADDRESS\tPURPOSE\tEXPIRES\tREVOKED")
			for _, c := range cs {
				rev := ""
				if !c.Revoked.IsZero() {
					rev = c.Revoked.Format("2006-01-02 15:04:05")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", c.Serial, c.Address, c.Purpose, c.NotAfter.Format("2006-01-02"), rev)
			}
		})
	})
}

func certRevoke(ctx context.Context, e *env, args []string) error {
	return withInstance(ctx, e, "cert revoke", "SERIAL", args, 1, 1, func(in *instance.Instance, pos []string, asJSON bool) error {
		_, ca, err := server.Profiles(ctx, in)
		if err != nil {
			return err
		}
		is, err := ca.Revoke(ctx, pos[0])
		if err != nil {
			return err
		}
		return emit(e, asJSON, is, func(w io.Writer) {
			fmt.Fprintf(w, "Revoked %s certificate %s of %s: refused from the next request on, and listed in the CRL; the next profile download carries a new one.\n",
				is.Purpose, is.Serial, is.Address)
		})
	})
}
