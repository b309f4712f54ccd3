package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"mailroom/internal/instance"
	"mailroom/internal/oauth"
)

// runOAuth manages the clients of the OAuth authorization server (docs/oauth.md).
func runOAuth(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "oauth", []sub{
		{"client", func(ctx context.Context, e *env, args []string) error {
			return dispatch(ctx, e, "oauth client", []sub{
				{"add", oauthClientAdd},
				{"list", oauthClientList},
				{"remove", oauthClientRemove},
			}, args)
		}},
	}, args)
}

// clientAddOut is what "oauth client add --json" prints.
type clientAddOut struct {
	oauth.Client
	Secret string `json:"secret,omitempty"`
}

func oauthClientAdd(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "oauth client add", "ID --redirect URI [--redirect URI]... [--name NAME] [--native | --confidential]")
	var nc oauth.NewClient
	f.StringVar(&nc.Name, "name", "", "the name users see on the sign-in page (default: the id)")
	f.Func("redirect", "a redirect URI; repeat for several", func(s string) error {
		nc.RedirectURIs = append(nc.RedirectURIs, s)
		return nil
	})
	f.BoolVar(&nc.Native, "native", false, "a native or mobile app: loopback redirects on any port, private-use schemes")
	f.BoolVar(&nc.Confidential, "confidential", false, "a server-side app that keeps a secret (shown once)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	nc.ID = pos[0]
	return f.with(ctx, e, func(in *instance.Instance) error {
		st, err := oauth.Open(ctx, in.DB, nil)
		if err != nil {
			return err
		}
		c, secret, err := st.AddClient(ctx, nc)
		if err != nil {
			return err
		}
		return emit(e, *f.json, clientAddOut{c, secret}, func(w io.Writer) {
			fmt.Fprintf(w, "Added OAuth client %s (%s).\n", c.ID, c.Name)
			if secret != "" {
				fmt.Fprintf(w, "Client secret (shown once):\t%s\n", secret)
			}
		})
	})
}

func oauthClientList(ctx context.Context, e *env, args []string) error {
	return withInstance(ctx, e, "oauth client list", "", args, 0, 0, func(in *instance.Instance, _ []string, asJSON bool) error {
		st, err := oauth.Open(ctx, in.DB, nil)
		if err != nil {
			return err
		}
		cs, err := st.Clients(ctx)
		if err != nil {
			return err
		}
		return emit(e, asJSON, cs, func(w io.Writer) {
			fmt.Fprintln(w, "CLIENT\tNAME\tTYPE\tREDIRECT URIS")
			for _, c := range cs {
				kind := "web"
				switch {
				case c.Builtin:
					kind = "native, built in"
				case c.Native:
					kind = "native"
				case c.Confidential:
					kind = "confidential"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.ID, c.Name, kind, strings.Join(c.RedirectURIs, " "))
			}
		})
	})
}

func oauthClientRemove(ctx context.Context, e *env, args []string) error {
	return withInstance(ctx, e, "oauth client remove", "ID", args, 1, 1, func(in *instance.Instance, pos []string, _ bool) error {
		st, err := oauth.Open(ctx, in.DB, nil)
		if err != nil {
			return err
		}
		if err := st.RemoveClient(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Removed OAuth client %s and revoked its tokens.\n", pos[0])
		return nil
	})
}
