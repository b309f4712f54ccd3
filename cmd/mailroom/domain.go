package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"mailroom/internal/autodiscover"
	"mailroom/internal/directory"
	"mailroom/internal/instance"
	"mailroom/internal/msgauth"
	"mailroom/internal/server"
)

func runDomain(ctx context.Context, e *env, args []string) error {
	return dispatch(ctx, e, "domain", []sub{
		{"add", domainAdd},
		{"list", domainList},
		{"show", domainShow},
		{"remove", domainRemove},
		{"dns", domainDNS},
	}, args)
}

func domainAdd(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "domain add", "[--netbios NAME] DOMAIN")
	netbios := f.String("netbios", "", "NetBIOS name (default: the first label, upper case)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		d, err := in.AddDomain(ctx, pos[0], *netbios)
		if err != nil {
			return err
		}
		return emit(e, *f.json, d, func(w io.Writer) {
			fmt.Fprintf(w, "Added domain %s (NetBIOS %s).\n", d.Name, d.NetBIOS)
		})
	})
}

func domainList(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "domain list", "")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		ds, err := in.Directory.Domains(ctx)
		if err != nil {
			return err
		}
		if ds == nil {
			ds = []directory.Domain{}
		}
		return emit(e, *f.json, ds, func(w io.Writer) {
			fmt.Fprintln(w, "DOMAIN\tNETBIOS\tCREATED")
			for _, d := range ds {
				fmt.Fprintf(w, "%s\t%s\t%s\n", d.Name, d.NetBIOS, d.Created.Format("2006-01-02"))
			}
		})
	})
}

func domainShow(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "domain show", "DOMAIN")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		d, err := in.Directory.Domain(ctx, pos[0])
		if err != nil {
			return err
		}
		users, err := in.Directory.Users(ctx)
		if err != nil {
			return err
		}
		var count int
		for _, u := range users {
			if u.Domain == d.Name {
				count++
			}
		}
		out := struct {
			directory.Domain
			Mailboxes int    `json:"mailboxes"`
			DKIMName  string `json:"dkimName,omitempty"`
			DKIMTXT   string `json:"dkimTxt,omitempty"`
		}{Domain: d, Mailboxes: count}
		if k, err := in.Directory.DKIMKey(ctx, d.Name); err == nil {
			signer, err := msgauth.NewSigner(d.Name, k.Selector, k.PrivateKey)
			if err != nil {
				return err
			}
			if out.DKIMTXT, err = signer.TXTRecord(); err != nil {
				return err
			}
			out.DKIMName = k.Selector + "._domainkey." + d.Name
		}
		return emit(e, *f.json, out, func(w io.Writer) {
			fmt.Fprintf(w, "Domain:\t%s\nNetBIOS:\t%s\nCreated:\t%s\nMailboxes:\t%d\n", d.Name, d.NetBIOS, d.Created.Format("2006-01-02 15:04:05"), count)
			if out.DKIMName != "" {
				fmt.Fprintf(w, "DKIM record:\t%s TXT \"%s\"\n", out.DKIMName, out.DKIMTXT)
			}
		})
	})
}

func domainRemove(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "domain remove", "DOMAIN")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		if err := in.Directory.RemoveDomain(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Removed domain %s.\n", pos[0])
		return nil
	})
}

func domainDNS(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "domain dns", "DOMAIN")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	return f.with(ctx, e, func(in *instance.Instance) error {
		d, err := in.Directory.Domain(ctx, pos[0])
		if err != nil {
			return err
		}
		records := autodiscover.DNSRecords(d.Name, server.Discovery(in.Config), in.Config.Hostname)
		if k, err := in.Directory.DKIMKey(ctx, d.Name); err == nil {
			signer, err := msgauth.NewSigner(d.Name, k.Selector, k.PrivateKey)
			if err != nil {
				return err
			}
			txt, err := signer.TXTRecord()
			if err != nil {
				return err
			}
			records = append(records, autodiscover.Record{Name: k.Selector + "._domainkey." + d.Name + ".", Type: "TXT", Value: strconv.Quote(txt), Note: "DKIM public key (RFC 6376)"})
		}
		return emit(e, *f.json, records, func(w io.Writer) {
			fmt.Fprintf(w, "; records to publish for %s\n", d.Name)
			for _, r := range records {
				fmt.Fprintf(w, "%s\tIN %s\t%s\t; %s\n", r.Name, r.Type, r.Value, r.Note)
			}
		})
	})
}
