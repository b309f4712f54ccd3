package web

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailroom/internal/autodiscover"
	"mailroom/internal/msgauth"
)

// checkedRecord is one DNS record a domain should publish and what the resolver says.
type checkedRecord struct {
	autodiscover.Record
	State  string // "published", "differs", "missing" or "not checked"
	Detail string // what was found instead, or the lookup error
}

// domainRecords lists what `mailroom domain dns` prints: the discovery records,
// the DKIM key of the domain and a DMARC policy.
func (h *Handler) domainRecords(ctx context.Context, domain string) ([]autodiscover.Record, error) {
	records := autodiscover.DNSRecords(domain, h.cfg.Services, h.cfg.Hostname)
	if k, err := h.cfg.Directory.DKIMKey(ctx, domain); err == nil {
		signer, err := msgauth.NewSigner(domain, k.Selector, k.PrivateKey)
		if err != nil {
			return nil, err
		}
		txt, err := signer.TXTRecord()
		if err != nil {
			return nil, err
		}
		records = append(records, autodiscover.Record{Name: k.Selector + "._domainkey." + domain + ".", Type: "TXT", Value: strconv.Quote(txt), Note: "DKIM public key (RFC 6376)"})
	}
	records = append(records, autodiscover.Record{Name: "_dmarc." + domain + ".", Type: "TXT",
		Value: strconv.Quote("v=DMARC1; p=quarantine; adkim=r; aspf=r"),
		Note:  "DMARC policy (RFC 7489): start with p=none to watch, then quarantine, then reject"})
	return records, nil
}

// checkRecords looks every record up at once, giving the resolver a few seconds in
// all, so that a page with an unreachable resolver still appears promptly.
func (h *Handler) checkRecords(ctx context.Context, records []autodiscover.Record) []checkedRecord {
	out := make([]checkedRecord, len(records))
	if h.cfg.Resolver == nil {
		for i, r := range records {
			out[i] = checkedRecord{Record: r, State: "not checked"}
		}
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i, r := range records {
		wg.Go(func() { out[i] = h.checkRecord(ctx, r) })
	}
	wg.Wait()
	return out
}

func (h *Handler) checkRecord(ctx context.Context, r autodiscover.Record) checkedRecord {
	c := checkedRecord{Record: r, State: "missing"}
	var found []string
	var err error
	want := r.Value
	switch r.Type {
	case "MX":
		var mxs []*net.MX
		mxs, err = h.cfg.Resolver.LookupMX(ctx, r.Name)
		for _, mx := range mxs {
			found = append(found, strconv.Itoa(int(mx.Pref))+" "+mx.Host)
		}
		// The preference is a suggestion; the host is what matters.
		want = lastField(r.Value)
		for i := range found {
			found[i] = lastField(found[i])
		}
	case "SRV":
		_, srvs, lerr := h.cfg.Resolver.LookupSRV(ctx, "", "", r.Name)
		err = lerr
		for _, s := range srvs {
			found = append(found, strconv.Itoa(int(s.Priority))+" "+strconv.Itoa(int(s.Weight))+" "+strconv.Itoa(int(s.Port))+" "+s.Target)
		}
		// Priority and weight are the administrator's choice; port and target must match.
		want = lastTwo(r.Value)
		for i := range found {
			found[i] = lastTwo(found[i])
		}
	case "TXT":
		found, err = h.cfg.Resolver.LookupTXT(ctx, r.Name)
		if u, uerr := strconv.Unquote(r.Value); uerr == nil {
			want = u
		}
	case "CNAME":
		var cname string
		cname, err = h.cfg.Resolver.LookupCNAME(ctx, r.Name)
		if err == nil {
			found = []string{cname}
		}
	default:
		c.State = "not checked"
		return c
	}
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	for _, f := range found {
		if strings.EqualFold(f, want) {
			c.State = "published"
			return c
		}
	}
	if len(found) > 0 {
		c.State, c.Detail = "differs", "found "+strings.Join(found, "; ")
	}
	return c
}

func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

func lastTwo(s string) string {
	f := strings.Fields(s)
	if len(f) < 2 {
		return s
	}
	return strings.Join(f[len(f)-2:], " ")
}

// domainPage is the data of one domain's page.
type domainPage struct {
	Name, NetBIOS string
	Created       time.Time
	Mailboxes     int
	Records       []checkedRecord
}

func (h *Handler) domain(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	d, err := h.cfg.Directory.Domain(ctx, r.PathValue("domain"))
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	users, err := h.cfg.Directory.Users(ctx)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	p := domainPage{Name: d.Name, NetBIOS: d.NetBIOS, Created: d.Created}
	for _, u := range users {
		if u.Domain == d.Name {
			p.Mailboxes++
		}
	}
	records, err := h.domainRecords(ctx, d.Name)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	p.Records = h.checkRecords(ctx, records)
	h.page(w, s, "domain", "Domain "+d.Name, "domains", p)
}
