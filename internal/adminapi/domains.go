package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"mailroom/internal/autodiscover"
	"mailroom/internal/directory"
	"mailroom/internal/msgauth"
)

// dnsRecord is one record a domain should publish, as `mailroom domain dns` lists it.
type dnsRecord struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
	Note  string `json:"note"`
}

// domainDetails is one domain with what depends on it.
type domainDetails struct {
	directory.Domain
	Mailboxes int         `json:"mailboxes"`
	DNS       []dnsRecord `json:"dns"`
}

func (a *API) listDomains(r *http.Request, _ directory.User) (int, any, error) {
	ds, err := a.c.Directory.Domains(r.Context())
	if ds == nil {
		ds = []directory.Domain{}
	}
	return http.StatusOK, ds, err
}

func (a *API) addDomain(r *http.Request, _ directory.User) (int, any, error) {
	var in struct {
		Name    string `json:"name"`
		NetBIOS string `json:"netbios"`
	}
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	d, err := a.c.Domains.AddDomain(r.Context(), in.Name, in.NetBIOS)
	if err != nil {
		return 0, nil, inField("name", err)
	}
	return http.StatusCreated, d, nil
}

func (a *API) showDomain(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	d, err := a.c.Directory.Domain(ctx, r.PathValue("domain"))
	if err != nil {
		return 0, nil, notFound(err)
	}
	users, err := a.c.Directory.Users(ctx)
	if err != nil {
		return 0, nil, err
	}
	out := domainDetails{Domain: d}
	for _, u := range users {
		if u.Domain == d.Name {
			out.Mailboxes++
		}
	}
	if out.DNS, err = a.dnsRecords(ctx, d.Name); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// dnsRecords lists what domain should publish: the discovery and mail records of
// autodiscover.DNSRecords, its DKIM key, and a DMARC policy to start from.
func (a *API) dnsRecords(ctx context.Context, domain string) ([]dnsRecord, error) {
	recs := autodiscover.DNSRecords(domain, a.c.Services, a.c.Hostname)
	k, err := a.c.Directory.DKIMKey(ctx, domain)
	switch {
	case err == nil:
		signer, err := msgauth.NewSigner(domain, k.Selector, k.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("DKIM key of %s: %w", domain, err)
		}
		txt, err := signer.TXTRecord()
		if err != nil {
			return nil, fmt.Errorf("DKIM key of %s: %w", domain, err)
		}
		recs = append(recs, autodiscover.Record{Name: k.Selector + "._domainkey." + domain + ".", Type: "TXT",
			Value: strconv.Quote(txt), Note: "DKIM public key (RFC 6376)"})
	case !errors.Is(err, directory.ErrNotFound):
		return nil, err
	}
	recs = append(recs, autodiscover.Record{Name: "_dmarc." + domain + ".", Type: "TXT",
		Value: strconv.Quote("v=DMARC1; p=quarantine; adkim=r; aspf=r"),
		Note:  "DMARC policy (RFC 7489): start with p=none to watch, then quarantine, then reject"})
	out := make([]dnsRecord, 0, len(recs))
	for _, r := range recs {
		out = append(out, dnsRecord{Name: r.Name, Type: r.Type, Value: r.Value, Note: r.Note})
	}
	return out, nil
}

func (a *API) removeDomain(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	d, err := a.c.Directory.Domain(ctx, r.PathValue("domain"))
	if err != nil {
		return 0, nil, notFound(err)
	}
	if err := a.c.Domains.RemoveDomain(ctx, d.Name); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
