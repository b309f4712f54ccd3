package activesync

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// findXML builds a Find request around one criterion.
func findXML(criterion string) string {
	return `<Find xmlns="Find:" xmlns:airsync="AirSync:"><SearchId>2d8e1a0c-6f1e-4b1a-9c1e-0a3c5e7f9b21</SearchId>` +
		`<ExecuteSearch>` + criterion + `</ExecuteSearch></Find>`
}

func mailboxFind(query, options string) string {
	return findXML(`<MailBoxSearchCriterion><Query>` + query + `</Query>` + options + `</MailBoxSearchCriterion>`)
}

func TestFind(t *testing.T) {
	e := newEnv(t)
	_, err := e.dir.AddUser(e.ctx, directory.NewUser{Address: "carol@example.com", Password: testPassword, GivenName: "Carol", Surname: "Alvarez"})
	must(t, err)
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	inboxF := e.folder(e.alice, store.RoleInbox)
	sub, err := e.store.CreateFolder(e.ctx, store.AccountID(e.alice.ID), inboxF.ID, "Projects", store.RoleNone)
	must(t, err)
	e.deliver(e.alice, store.RoleInbox, message("Bob <bob@example.com>", "alice@example.com", "quarterly budget", "numbers inside"), base)
	e.deliver(e.alice, store.RoleInbox, "From: bob@example.com\r\nTo: alice@example.com\r\nCc: Carol <carol@example.com>\r\n"+
		"Subject: lunch\r\nImportance: high\r\nMessage-ID: <lunch@example.com>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nbudget for   lunch?\r\n"+
		"--b\r\nContent-Type: application/pdf; name=menu.pdf\r\nContent-Disposition: attachment; filename=menu.pdf\r\n\r\n%PDF\r\n--b--\r\n",
		base.Add(time.Hour))
	e.deliver(e.alice, store.RoleArchive, message("bob@example.com", "alice@example.com", "old budget", "x"), base.Add(-time.Hour))
	e.deliver(e.alice, store.RoleInbox, message("dave@example.com", "alice@example.com", "unrelated", "y"), base)
	_, err = e.store.Deliver(e.ctx, store.NewMessage{Raw: []byte(message("bob@example.com", "alice@example.com", "budget of the project", "z")),
		InternalDate: base.Add(-2 * time.Hour)}, []store.Placement{{Account: store.AccountID(e.alice.ID), Folder: sub.ID}})
	must(t, err)
	c := e.client("find1")
	c.provision()
	ns := wbxml.NSFind
	inbox := folderServerID(inboxF.ID)

	for _, tc := range []struct {
		name     string
		body     string
		subjects []string // of the Results, in order; nil: only Status is checked
		total    string
		rng      string
		status   string // of Find; Response's is 1 whenever Find's is
	}{
		{"all mail folders", mailboxFind(`<airsync:Class>Email</airsync:Class><FreeText>budget</FreeText>`, ""),
			[]string{"lunch", "quarterly budget", "old budget", "budget of the project"}, "4", "0-3", "1"},
		{"first page", mailboxFind(`<FreeText>budget</FreeText>`, `<Options><Range>0-1</Range></Options>`),
			[]string{"lunch", "quarterly budget"}, "4", "0-1", "1"},
		{"second page", mailboxFind(`<FreeText>budget</FreeText>`, `<Options><Range>2-3</Range></Options>`),
			[]string{"old budget", "budget of the project"}, "4", "2-3", "1"},
		{"past the end", mailboxFind(`<FreeText>budget</FreeText>`, `<Options><Range>10-19</Range></Options>`),
			[]string{}, "4", "", "1"},
		{"one folder", mailboxFind(`<airsync:CollectionId>`+inbox+`</airsync:CollectionId><FreeText>budget</FreeText>`, ""),
			[]string{"lunch", "quarterly budget"}, "2", "0-1", "1"},
		{"folder and subfolders", mailboxFind(`<airsync:CollectionId>`+inbox+`</airsync:CollectionId><FreeText>budget</FreeText>`,
			`<Options><DeepTraversal/></Options>`),
			[]string{"lunch", "quarterly budget", "budget of the project"}, "3", "0-2", "1"},
		{"KQL property", mailboxFind(`<FreeText>subject:budget from:bob</FreeText>`, ""),
			[]string{"quarterly budget", "old budget", "budget of the project"}, "3", "0-2", "1"},
		{"KQL phrase and AND", mailboxFind(`<FreeText>"for lunch" AND budget</FreeText>`, ""),
			[]string{}, "0", "", "1"},
		{"two words", mailboxFind(`<FreeText>budget project</FreeText>`, ""),
			[]string{"budget of the project"}, "1", "0-0", "1"},
		{"nothing found", mailboxFind(`<FreeText>zebra</FreeText>`, ""), []string{}, "0", "", "1"},

		{"no criterion", findXML(``), nil, "", "", "2"},
		{"both criteria", findXML(`<MailBoxSearchCriterion><Query><FreeText>x</FreeText></Query></MailBoxSearchCriterion>` +
			`<GalSearchCriterion><Query>x</Query></GalSearchCriterion>`), nil, "", "", "2"},
		{"no query", findXML(`<MailBoxSearchCriterion></MailBoxSearchCriterion>`), nil, "", "", "2"},
		{"empty FreeText", mailboxFind(`<FreeText> </FreeText>`, ""), nil, "", "", "2"},
		{"unclosed quote", mailboxFind(`<FreeText>"budget</FreeText>`, ""), nil, "", "", "2"},
		{"other class", mailboxFind(`<airsync:Class>Contacts</airsync:Class><FreeText>x</FreeText>`, ""), nil, "", "", "2"},
		{"bad range", mailboxFind(`<FreeText>x</FreeText>`, `<Options><Range>5-2</Range></Options>`), nil, "", "", "2"},
		{"range beyond 999", mailboxFind(`<FreeText>x</FreeText>`, `<Options><Range>0-1000</Range></Options>`), nil, "", "", "2"},
		{"range not numbers", mailboxFind(`<FreeText>x</FreeText>`, `<Options><Range>a-b</Range></Options>`), nil, "", "", "2"},
		{"unknown folder", mailboxFind(`<airsync:CollectionId>999999</airsync:CollectionId><FreeText>x</FreeText>`, ""), nil, "", "", "3"},
		{"another user's folder", mailboxFind(`<airsync:CollectionId>`+folderServerID(e.folder(e.bob, store.RoleInbox).ID)+
			`</airsync:CollectionId><FreeText>x</FreeText>`, ""), nil, "", "", "3"},
		{"empty GAL query", findXML(`<GalSearchCriterion><Query></Query></GalSearchCriterion>`), nil, "", "", "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("Find", tc.body)
			if got := status(r, ns); got != tc.status {
				t.Fatalf("Status %s, want %s: %s", got, tc.status, r.XML())
			}
			resp := r.Child(ns, "Response")
			if tc.status != "1" {
				if resp != nil {
					t.Errorf("a failed Find has a Response: %s", r.XML())
				}
				return
			}
			if resp.ChildText(wbxml.NSItemOperations, "Store") != "Mailbox" || status(resp, ns) != "1" ||
				resp.ChildText(ns, "Total") != tc.total || resp.ChildText(ns, "Range") != tc.rng {
				t.Fatalf("Response: %s", r.XML())
			}
			var got []string
			for _, res := range resp.All(ns, "Result") {
				got = append(got, res.Child(ns, "Properties").ChildText(wbxml.NSEmail, "Subject"))
			}
			if strings.Join(got, "|") != strings.Join(tc.subjects, "|") {
				t.Errorf("results %q, want %q", got, tc.subjects)
			}
		})
	}

	// The golden answer: one message with every summary field.
	r := c.do("Find", mailboxFind(`<airsync:CollectionId>`+inbox+`</airsync:CollectionId><FreeText>subject:lunch</FreeText>`, ""))
	golden(t, "find-response.xml", r)

	// The ServerId and CollectionId fetch the whole message.
	res := r.Child(ns, "Response").Child(ns, "Result")
	r = c.do("ItemOperations", `<ItemOperations xmlns="ItemOperations:" xmlns:airsync="AirSync:"><Fetch><Store>Mailbox</Store>`+
		`<airsync:CollectionId>`+res.ChildText(wbxml.NSAirSync, "CollectionId")+`</airsync:CollectionId>`+
		`<airsync:ServerId>`+res.ChildText(wbxml.NSAirSync, "ServerId")+`</airsync:ServerId></Fetch></ItemOperations>`)
	if f := r.Child(wbxml.NSItemOperations, "Response").Child(wbxml.NSItemOperations, "Fetch"); f.ChildText(wbxml.NSItemOperations, "Status") != "1" {
		t.Errorf("fetch by ServerId: %s", r.XML())
	}

	// GAL: the same entries Search finds, as Find's gal: properties.
	for q, want := range map[string]string{"car": "carol@example.com", "alv": "carol@example.com", "bob@": "bob@example.com"} {
		r = c.do("Find", findXML(`<GalSearchCriterion><Query>`+q+`</Query><Options><Range>0-9</Range></Options></GalSearchCriterion>`))
		resp := r.Child(ns, "Response")
		results := resp.All(ns, "Result")
		if status(r, ns) != "1" || resp.ChildText(wbxml.NSItemOperations, "Store") != "GAL" || len(results) != 1 ||
			results[0].Child(ns, "Properties").ChildText(wbxml.NSGAL, "EmailAddress") != want || resp.ChildText(ns, "Total") != "1" {
			t.Errorf("GAL %q: %s", q, r.XML())
		}
	}

	// Find is a 16.1 command: an older protocol version is a bad request, not a fault.
	c.version = "14.1"
	if resp, _ := c.send("Find", mailboxFind(`<FreeText>budget</FreeText>`, "")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("Find over 14.1: HTTP %d", resp.StatusCode)
	}
	c.version = "16.1"
	// A body that is not a Find at all.
	if resp, _ := c.send("Find", `<Search xmlns="Search:"/>`); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("Search body to Find: HTTP %d", resp.StatusCode)
	}
}

func TestParseKQL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []kqlTerm // nil: invalid
	}{
		{"budget", []kqlTerm{{"", "budget"}}},
		{"  budget   lunch ", []kqlTerm{{"", "budget"}, {"", "lunch"}}},
		{`subject:"q1 budget" FROM:bob`, []kqlTerm{{"subject", "q1 budget"}, {"from", "bob"}}},
		{"a AND b", []kqlTerm{{"", "a"}, {"", "b"}}},
		{"and", []kqlTerm{{"", "and"}}},
		{"size:5 body:x", []kqlTerm{{"", "size:5"}, {"body", "x"}}},
		{`"unclosed`, nil},
		{"", nil},
		{`""`, nil},
		{strings.Repeat("w ", maxFindTerms+1), nil},
	} {
		crit, ok := parseKQL(tc.in)
		terms, _ := kqlTerms(tc.in)
		if (tc.want == nil) != !ok {
			t.Errorf("parseKQL(%q): ok %v", tc.in, ok)
			continue
		}
		if ok && (crit == nil || len(terms) != len(tc.want)) {
			t.Errorf("parseKQL(%q): terms %q, want %q", tc.in, terms, tc.want)
			continue
		}
		for i := range tc.want {
			if ok && terms[i] != tc.want[i] {
				t.Errorf("parseKQL(%q): term %d %q, want %q", tc.in, i, terms[i], tc.want[i])
			}
		}
	}
}

// FuzzKQL checks that any FreeText gives criteria or a refusal, never a panic, and that
// every term it keeps is non-empty.
func FuzzKQL(f *testing.F) {
	for _, s := range []string{"budget", `subject:"a b" from:c`, `"x`, "a AND b", "to:", ":", `body:""`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		terms, ok := kqlTerms(q)
		if !ok {
			return
		}
		for _, term := range terms {
			if term.value == "" {
				t.Fatalf("%q: empty term", q)
			}
		}
		if _, ok := parseKQL(q); ok != (len(terms) > 0 && len(terms) <= maxFindTerms) {
			t.Fatalf("%q: parseKQL disagrees with its %d terms", q, len(terms))
		}
	})
}

// FuzzFindRequest sends arbitrary bytes as a Find body: the server may refuse them, but
// never with a 500 and never by panicking.
func FuzzFindRequest(f *testing.F) {
	e := newEnv(f)
	c := e.client("fuzzfind")
	c.provision()
	e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "seed", "body"), e.srv.now())
	for _, x := range []string{
		mailboxFind(`<FreeText>seed</FreeText>`, `<Options><Range>0-9</Range><DeepTraversal/></Options>`),
		findXML(`<GalSearchCriterion><Query>bob</Query></GalSearchCriterion>`),
	} {
		el, err := wbxml.ParseXML([]byte(x))
		must(f, err)
		b, err := wbxml.Encode(el)
		must(f, err)
		f.Add(b)
	}
	f.Add([]byte{})
	client := &http.Client{Transport: e.ts.Client().Transport, Timeout: 10 * time.Second}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := http.NewRequest(http.MethodPost, c.url("Find"), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(c.login, c.password)
		req.Header.Set("MS-ASProtocolVersion", "16.1")
		req.Header.Set("X-MS-PolicyKey", c.policyKey)
		resp, err := client.Do(req)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("HTTP %d for body %x", resp.StatusCode, body)
		}
	})
}
