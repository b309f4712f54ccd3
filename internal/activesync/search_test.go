package activesync

import (
	"testing"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

func TestSearchMailboxAndGAL(t *testing.T) {
	e := newEnv(t)
	_, err := e.dir.AddUser(e.ctx, directory.NewUser{Address: "carol@example.com", Password: testPassword, GivenName: "Carol", Surname: "Alvarez"})
	must(t, err)
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "quarterly budget", "numbers inside"), base)
	e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "lunch", "budget for lunch?"), base.Add(time.Hour))
	e.deliver(e.alice, store.RoleArchive, message("bob@example.com", "alice@example.com", "old budget", "x"), base.Add(-time.Hour))
	e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "unrelated", "y"), base)
	c := e.client("dev1")
	c.provision()
	ns := wbxml.NSSearch
	inbox := folderServerID(e.folder(e.alice, store.RoleInbox).ID)

	r := c.do("Search", `<Search xmlns="Search:" xmlns:airsync="AirSync:"><Store><Name>Mailbox</Name><Query><And>`+
		`<airsync:Class>Email</airsync:Class><FreeText>budget</FreeText></And></Query><Options><Range>0-1</Range></Options></Store></Search>`)
	st := r.Child(ns, "Response").Child(ns, "Store")
	results := st.All(ns, "Result")
	if status(r, ns) != "1" || st.ChildText(ns, "Status") != "1" || len(results) != 2 || st.ChildText(ns, "Total") != "3" || st.ChildText(ns, "Range") != "0-1" {
		t.Fatalf("mailbox search: %.2000s", r.XML())
	}
	if subj := results[0].Child(ns, "Properties").ChildText(wbxml.NSEmail, "Subject"); subj != "lunch" {
		t.Errorf("newest first: got %q", subj)
	}
	// The LongId fetches the message.
	long := results[0].ChildText(ns, "LongId")
	r = c.do("ItemOperations", `<ItemOperations xmlns="ItemOperations:" xmlns:search="Search:"><Fetch><Store>Mailbox</Store><search:LongId>`+long+`</search:LongId></Fetch></ItemOperations>`)
	if f := r.Child(wbxml.NSItemOperations, "Response").Child(wbxml.NSItemOperations, "Fetch"); f.ChildText(wbxml.NSItemOperations, "Status") != "1" {
		t.Errorf("fetch by LongId: %s", r.XML())
	}
	// One folder only.
	r = c.do("Search", `<Search xmlns="Search:" xmlns:airsync="AirSync:"><Store><Name>Mailbox</Name><Query><And>`+
		`<airsync:CollectionId>`+inbox+`</airsync:CollectionId><FreeText>budget</FreeText></And></Query></Store></Search>`)
	if got := r.Child(ns, "Response").Child(ns, "Store").ChildText(ns, "Total"); got != "2" {
		t.Errorf("inbox only: %s", got)
	}

	// GAL: by first name, surname or address prefix.
	for q, want := range map[string]string{"car": "carol@example.com", "alv": "carol@example.com", "bob@": "bob@example.com"} {
		r = c.do("Search", `<Search xmlns="Search:"><Store><Name>GAL</Name><Query>`+q+`</Query><Options><Range>0-9</Range></Options></Store></Search>`)
		res := r.Child(ns, "Response").Child(ns, "Store").All(ns, "Result")
		if len(res) != 1 || res[0].Child(ns, "Properties").ChildText(wbxml.NSGAL, "EmailAddress") != want {
			t.Errorf("GAL %q: %s", q, r.XML())
		}
	}
	if r := c.do("Search", `<Search xmlns="Search:"><Store><Name>Nowhere</Name><Query>x</Query></Store></Search>`); r.Child(ns, "Response").Child(ns, "Store").ChildText(ns, "Status") != "2" {
		t.Errorf("unknown store: %s", r.XML())
	}

	// ResolveRecipients.
	rr := wbxml.NSResolveRecipients
	r = c.do("ResolveRecipients", `<ResolveRecipients xmlns="ResolveRecipients:"><To>bob@example.com</To><To>a</To><To>zed</To></ResolveRecipients>`)
	resps := r.All(rr, "Response")
	if len(resps) != 3 {
		t.Fatalf("ResolveRecipients: %s", r.XML())
	}
	if resps[0].ChildText(rr, "Status") != "1" || resps[0].Child(rr, "Recipient").ChildText(rr, "EmailAddress") != "bob@example.com" {
		t.Errorf("exact: %s", resps[0].XML())
	}
	if resps[1].ChildText(rr, "Status") != "2" || resps[1].ChildText(rr, "RecipientCount") != "2" {
		t.Errorf("ambiguous: %s", resps[1].XML())
	}
	if resps[2].ChildText(rr, "Status") != "4" {
		t.Errorf("unknown: %s", resps[2].XML())
	}
}
