package main

import (
	"context"
	"flag"
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
		{"pop3", domainPOP3},
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
			fmt.Fprintf(w, "POP3 deletions:\t%s\n", pop3Policy(d))
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
		if err := in.RemoveDomain(ctx, pos[0]); err != nil {
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
		records = append(records, autodiscover.Record{Name: "_dmarc." + d.Name + ".", Type: "TXT",
			Value: strconv.Quote("v=DMARC1; p=quarantine; adkim=r; aspf=r"),
			Note:  "DMARC policy (RFC 7489): start with p=none to watch, then quarantine, then reject"})
		return emit(e, *f.json, records, func(w io.Writer) {
			fmt.Fprintf(w, "; records to publish for %s\n", d.Name)
			for _, r := range records {
				fmt.Fprintf(w, "%s\tIN %s\t%s\t; %s\n", r.Name, r.Type, r.Value, r.Note)
			}
		})
	})
}

// domainPOP3 shows or sets what a POP3 DELE does in a domain. Flags not given keep
// their current value, so that --days alone does not turn keeping off, and no flag
// at all shows the setting.
func domainPOP3(ctx context.Context, e *env, args []string) error {
	f := newFlags(e, "domain pop3", "[--keep=true|false] [--days N] DOMAIN")
	keep := f.Bool("keep", true, "move POP3-deleted mail to Deleted Items instead of removing it")
	days := f.Int("days", directory.DefaultPOP3RetentionDays, "days POP3-deleted mail stays in Deleted Items (1-3650)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	return f.with(ctx, e, func(in *instance.Instance) error {
		d, err := in.Directory.Domain(ctx, pos[0])
		if err != nil {
			return err
		}
		if set["keep"] || set["days"] {
			if set["keep"] {
				d.POP3KeepDeleted = *keep
			}
			if set["days"] {
				d.POP3RetentionDays = *days
			}
			if err := in.Directory.SetPOP3Retention(ctx, d.Name, d.POP3KeepDeleted, d.POP3RetentionDays); err != nil {
				return err
			}
		}
		out := struct {
			Name              string `json:"name"`
			POP3KeepDeleted   bool   `json:"pop3KeepDeleted"`
			POP3RetentionDays int    `json:"pop3RetentionDays"`
		}{d.Name, d.POP3KeepDeleted, d.POP3RetentionDays}
		return emit(e, *f.json, out, func(w io.Writer) {
			fmt.Fprintf(w, "%s: POP3 deletions %s.\n", d.Name, pop3Policy(d))
		})
	})
}

// pop3Policy says in words what a POP3 DELE does in d.
func pop3Policy(d directory.Domain) string {
	if d.POP3KeepDeleted {
		return fmt.Sprintf("kept in Deleted Items for %d days", d.POP3RetentionDays)
	}
	return "removed at once"
}
