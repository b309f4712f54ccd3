package activesync

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// primed returns a provisioned client and the Inbox synced to its current content.
func primed(t *testing.T, e *env, options string) (*client, string, string) {
	t.Helper()
	c := e.client("dev1")
	c.provision()
	inbox := folderServerID(e.folder(e.alice, store.RoleInbox).ID)
	key := collection(c.do("Sync", syncXML(inbox, "0", options))).ChildText(wbxml.NSAirSync, "SyncKey")
	return c, inbox, key
}

func TestSyncBodies(t *testing.T) {
	e := newEnv(t)
	html := "From: bob@example.com\r\nTo: \"Alice Smith\" <alice@example.com>\r\nCc: carol@example.org\r\nSubject: =?utf-8?q?Caf=C3=A9?=\r\n" +
		"Importance: high\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nCaf\xe9 at noon, see you there with everyone\r\n" +
		"--x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Caf\xc3\xa9 <b>at noon</b></p>\r\n--x--\r\n"
	e.deliver(e.alice, store.RoleInbox, html, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	c, inbox, key := primed(t, e, "")
	opts := func(typ, size string) string {
		return `<Options><MIMESupport>2</MIMESupport><airsyncbase:BodyPreference><airsyncbase:Type>` + typ +
			`</airsyncbase:Type><airsyncbase:TruncationSize>` + size + `</airsyncbase:TruncationSize><airsyncbase:Preview>20</airsyncbase:Preview></airsyncbase:BodyPreference></Options>`
	}
	r := c.do("Sync", syncXML(inbox, key, opts("1", "10")))
	golden(t, "sync-plain-truncated.xml", r)
	ad := collection(r).Child(wbxml.NSAirSync, "Commands").Child(wbxml.NSAirSync, "Add").Child(wbxml.NSAirSync, "ApplicationData")
	body := ad.Child(wbxml.NSAirSyncBase, "Body")
	if body.ChildText(wbxml.NSAirSyncBase, "Data") != "Café at n" || body.ChildText(wbxml.NSAirSyncBase, "Truncated") != "1" ||
		ad.ChildText(wbxml.NSEmail, "Subject") != "Café" || ad.ChildText(wbxml.NSEmail, "Importance") != "2" ||
		ad.ChildText(wbxml.NSEmail, "DisplayTo") != "Alice Smith" {
		t.Errorf("plain body: %s", ad.XML())
	}
	sid := collection(r).Child(wbxml.NSAirSync, "Commands").Child(wbxml.NSAirSync, "Add").ChildText(wbxml.NSAirSync, "ServerId")
	// Fetch inside Sync, as HTML and as MIME.
	for typ, want := range map[string]string{"2": "<p>Café <b>at noon</b></p>", "4": html} {
		r = c.do("Sync", syncXML(inbox, collection(r).ChildText(wbxml.NSAirSync, "SyncKey"),
			opts(typ, "0")+`<Commands><Fetch><ServerId>`+sid+`</ServerId></Fetch></Commands>`))
		f := collection(r).Child(wbxml.NSAirSync, "Responses").Child(wbxml.NSAirSync, "Fetch")
		got := f.Child(wbxml.NSAirSync, "ApplicationData").Child(wbxml.NSAirSyncBase, "Body").ChildText(wbxml.NSAirSyncBase, "Data")
		if f.ChildText(wbxml.NSAirSync, "Status") != "1" || strings.TrimSpace(got) != strings.TrimSpace(want) {
			t.Errorf("fetch type %s: %q", typ, got)
		}
	}
}

func TestSyncClientChanges(t *testing.T) {
	e := newEnv(t)
	for i := range 3 {
		e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "m"+string(rune('a'+i)), "x"), time.Now())
	}
	c, inbox, key := primed(t, e, "")
	ns := wbxml.NSAirSync
	r := c.do("Sync", syncXML(inbox, key, ""))
	key = collection(r).ChildText(ns, "SyncKey")
	ids := []string{}
	for _, a := range collection(r).Child(ns, "Commands").All(ns, "Add") {
		ids = append(ids, a.ChildText(ns, "ServerId"))
	}
	slices.Sort(ids)
	// Categories and a flag from the device; a delete for good; an unknown item.
	r = c.do("Sync", syncXML(inbox, key, `<DeletesAsMoves>0</DeletesAsMoves><Commands>`+
		`<Change><ServerId>`+ids[0]+`</ServerId><ApplicationData><email:Flag><email:Status>2</email:Status></email:Flag>`+
		`<email:Categories><email:Category>Red</email:Category><email:Category>Work stuff</email:Category></email:Categories></ApplicationData></Change>`+
		`<Delete><ServerId>`+ids[1]+`</ServerId></Delete>`+
		`<Change><ServerId>`+inbox+`:9999</ServerId><ApplicationData><email:Read>1</email:Read></ApplicationData></Change>`+
		`<Add><ClientId>new1</ClientId><ApplicationData/></Add>`+
		`</Commands>`))
	col := collection(r)
	resp := col.Child(ns, "Responses")
	if resp.Child(ns, "Change").ChildText(ns, "Status") != "8" || resp.Child(ns, "Add").ChildText(ns, "Status") != "6" || col.Child(ns, "Commands") != nil {
		t.Errorf("responses: %s", r.XML())
	}
	key = col.ChildText(ns, "SyncKey")
	f, uid, _ := parseItemID(ids[0])
	m, err := e.store.MessageByUID(e.ctx, f, uid)
	must(t, err)
	if !slices.Contains(m.Flags, store.FlagFlagged) || m.Props[propCategories] != `["Red","Work stuff"]` {
		t.Errorf("after change: flags %v props %v", m.Flags, m.Props)
	}
	_, uid1, _ := parseItemID(ids[1])
	if _, err := e.store.MessageByUID(e.ctx, f, uid1); err == nil {
		t.Error("deleted message still there")
	}
	if l, _ := e.store.List(e.ctx, e.folder(e.alice, store.RoleTrash).ID); len(l) != 0 {
		t.Error("DeletesAsMoves 0 moved to Deleted Items")
	}
	// Changes made elsewhere come through with the categories.
	_, err = e.store.SetProps(e.ctx, m.ID, map[string]string{propCategories: `["Blue"]`})
	must(t, err)
	r = c.do("Sync", syncXML(inbox, key, ""))
	ch := collection(r).Child(ns, "Commands").Child(ns, "Change")
	if ch.Child(ns, "ApplicationData").Child(wbxml.NSEmail, "Categories").ChildText(wbxml.NSEmail, "Category") != "Blue" {
		t.Errorf("category change: %s", r.XML())
	}
	// Unknown keys and collections.
	if s := collection(c.do("Sync", syncXML(inbox, "999", ""))).ChildText(ns, "Status"); s != "3" {
		t.Errorf("unknown key: %s", s)
	}
	if s := collection(c.do("Sync", syncXML(inbox, "abc", ""))).ChildText(ns, "Status"); s != "3" {
		t.Errorf("malformed key: %s", s)
	}
	if s := collection(c.do("Sync", syncXML("424242", "1", ""))).ChildText(ns, "Status"); s != "12" {
		t.Errorf("unknown collection: %s", s)
	}
	// Another user's folder is unknown too.
	bobInbox := folderServerID(e.folder(e.bob, store.RoleInbox).ID)
	if s := collection(c.do("Sync", syncXML(bobInbox, "0", ""))).ChildText(ns, "Status"); s != "12" {
		t.Errorf("bob's folder: %s", s)
	}
	resp2, _ := c.send("Sync", "")
	if resp2.StatusCode != http.StatusOK {
		t.Errorf("empty Sync: HTTP %d", resp2.StatusCode)
	}
	if r := c.do("Sync", `<Sync xmlns="AirSync:"><Wait>5</Wait><HeartbeatInterval>300</HeartbeatInterval><Collections><Collection><SyncKey>1</SyncKey><CollectionId>1</CollectionId></Collection></Collections></Sync>`); status(r, ns) != "4" {
		t.Errorf("Wait and HeartbeatInterval: %s", r.XML())
	}
	if r := c.do("Sync", `<Sync xmlns="AirSync:"><Wait>90</Wait><Collections><Collection><SyncKey>1</SyncKey><CollectionId>1</CollectionId></Collection></Collections></Sync>`); status(r, ns) != "14" || r.ChildText(ns, "Limit") != "59" {
		t.Errorf("Wait too long: %s", r.XML())
	}
}

func TestSyncFilterAndWait(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	e := newEnv(t, func(c *Config) { c.Now = clock })
	e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "old", "x"), now.AddDate(0, 0, -10))
	e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "recent", "x"), now.AddDate(0, 0, -1))
	week := `<Options><FilterType>3</FilterType></Options>`
	c, inbox, key := primed(t, e, week)
	ns := wbxml.NSAirSync
	// GetItemEstimate counts what the window holds.
	r := c.do("GetItemEstimate", `<GetItemEstimate xmlns="GetItemEstimate:" xmlns:airsync="AirSync:"><Collections><Collection>`+
		`<airsync:SyncKey>`+key+`</airsync:SyncKey><CollectionId>`+inbox+`</CollectionId><airsync:Options><airsync:FilterType>3</airsync:FilterType></airsync:Options></Collection></Collections></GetItemEstimate>`)
	if got := r.Child(wbxml.NSGetItemEstimate, "Response").Child(wbxml.NSGetItemEstimate, "Collection").ChildText(wbxml.NSGetItemEstimate, "Estimate"); got != "1" {
		t.Errorf("estimate: %s", r.XML())
	}
	r = c.do("Sync", syncXML(inbox, key, ""))
	adds := collection(r).Child(ns, "Commands").All(ns, "Add")
	if len(adds) != 1 || adds[0].Child(ns, "ApplicationData").ChildText(wbxml.NSEmail, "Subject") != "recent" {
		t.Fatalf("one-week window: %s", r.XML())
	}
	key = collection(r).ChildText(ns, "SyncKey")
	// A week later the message leaves the window.
	mu.Lock()
	now = now.AddDate(0, 0, 7)
	mu.Unlock()
	r = c.do("Sync", syncXML(inbox, key, ""))
	if collection(r).Child(ns, "Commands").Child(ns, "SoftDelete") == nil {
		t.Fatalf("aged out: %s", r.XML())
	}
	key = collection(r).ChildText(ns, "SyncKey")

	// A hanging Sync answers when mail arrives.
	go func() {
		time.Sleep(200 * time.Millisecond)
		if _, err := e.store.Deliver(e.ctx, store.NewMessage{Raw: []byte(message("bob@example.com", "alice@example.com", "live", "x")), InternalDate: clock()},
			[]store.Placement{{Account: store.AccountID(e.alice.ID)}}); err != nil {
			t.Errorf("deliver: %v", err)
		}
	}()
	start := time.Now()
	r = c.do("Sync", `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>`+key+`</SyncKey><CollectionId>`+inbox+
		`</CollectionId></Collection></Collections><Wait>1</Wait></Sync>`)
	adds = collection(r).Child(ns, "Commands").All(ns, "Add")
	if len(adds) != 1 || time.Since(start) > 1500*time.Millisecond || time.Since(start) < 150*time.Millisecond {
		t.Errorf("hanging Sync after %v: %s", time.Since(start), r.XML())
	}
}

func TestComposeCommands(t *testing.T) {
	e := newEnv(t)
	orig := "From: Bob <bob@example.com>\r\nTo: alice@example.com\r\nSubject: Plans\r\nMessage-ID: <plans@example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: text/plain\r\n\r\nShall we meet?\r\n" +
		"--q\r\nContent-Type: text/calendar; name=meet.ics\r\nContent-Disposition: attachment; filename=meet.ics\r\n\r\nBEGIN:VCALENDAR\r\n--q--\r\n"
	d := e.deliver(e.alice, store.RoleInbox, orig, time.Now())
	c := e.client("dev1")
	c.provision()
	itemID := itemServerID(d.Folder, d.UID)
	bobInbox := e.folder(e.bob, store.RoleInbox).ID
	latest := func() string {
		l, err := e.store.List(e.ctx, bobInbox)
		must(t, err)
		raw, err := e.store.Raw(e.ctx, func() store.MessageID {
			m, err := e.store.MessageByUID(e.ctx, bobInbox, l[len(l)-1].UID)
			must(t, err)
			return m.ID
		}())
		must(t, err)
		return string(raw)
	}
	reply := "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: Re: Plans\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYes!\r\n"
	resp, el := c.send("SmartReply", `<SmartReply xmlns="ComposeMail:"><ClientId>r1</ClientId><Source><FolderId>`+folderServerID(d.Folder)+
		`</FolderId><ItemId>`+itemID+`</ItemId></Source><Mime>`+base64.StdEncoding.EncodeToString([]byte(reply))+`</Mime></SmartReply>`)
	if resp.StatusCode != http.StatusOK || el != nil {
		t.Fatalf("SmartReply: HTTP %d %v", resp.StatusCode, el)
	}
	got := latest()
	b64, _, _ := strings.Cut(strings.SplitN(got, "Content-Transfer-Encoding: base64\r\n\r\n", 2)[1], "\r\n\r\n")
	quoted, _ := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
	if !strings.Contains(got, "In-Reply-To: <plans@example.com>") || !strings.Contains(got, "Yes!") || !strings.Contains(string(quoted), "> Shall we meet?") {
		t.Errorf("reply as delivered:\n%s\nquoted %q", got, quoted)
	}
	if l, _ := e.store.List(e.ctx, e.folder(e.alice, store.RoleSent).ID); len(l) != 0 {
		t.Error("saved to Sent without SaveInSentItems")
	}

	fwd := "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: Fw: Plans\r\n\r\nFYI\r\n"
	resp, _ = c.send("SmartForward", `<SmartForward xmlns="ComposeMail:"><ClientId>f1</ClientId><SaveInSentItems/><Source><ItemId>`+itemID+
		`</ItemId></Source><Mime>`+base64.StdEncoding.EncodeToString([]byte(fwd))+`</Mime></SmartForward>`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SmartForward: HTTP %d", resp.StatusCode)
	}
	got = latest()
	if !strings.Contains(got, "Content-Type: message/rfc822") || !strings.Contains(got, "filename=meet.ics") || !strings.Contains(got, "FYI") {
		t.Errorf("forward as delivered:\n%s", got)
	}
	if l, _ := e.store.List(e.ctx, e.folder(e.alice, store.RoleSent).ID); len(l) != 1 {
		t.Error("forward not saved to Sent")
	}
	// ReplaceMime: the device's message goes as it is.
	resp, _ = c.send("SmartReply", `<SmartReply xmlns="ComposeMail:"><ClientId>r2</ClientId><Source><ItemId>`+itemID+
		`</ItemId></Source><ReplaceMime/><Mime>`+base64.StdEncoding.EncodeToString([]byte(reply))+`</Mime></SmartReply>`)
	if resp.StatusCode != http.StatusOK || latest() != reply {
		t.Errorf("ReplaceMime: HTTP %d\n%s", resp.StatusCode, latest())
	}
	// Unknown original, no recipients, empty message.
	if _, el := c.send("SmartReply", `<SmartReply xmlns="ComposeMail:"><ClientId>r3</ClientId><Source><ItemId>1:999</ItemId></Source><Mime>`+
		base64.StdEncoding.EncodeToString([]byte(reply))+`</Mime></SmartReply>`); status(el, wbxml.NSComposeMail) != "150" {
		t.Errorf("unknown original: %v", el)
	}
	if _, el := c.send("SendMail", `<SendMail xmlns="ComposeMail:"><ClientId>s1</ClientId><Mime>`+
		base64.StdEncoding.EncodeToString([]byte("Subject: nobody\r\n\r\nx\r\n"))+`</Mime></SendMail>`); status(el, wbxml.NSComposeMail) != "120" {
		t.Errorf("no recipients: %v", el)
	}
	if _, el := c.send("SendMail", `<SendMail xmlns="ComposeMail:"><ClientId>s2</ClientId></SendMail>`); status(el, wbxml.NSComposeMail) != "107" {
		t.Errorf("no MIME: %v", el)
	}
	// 12.1: the raw message with SaveInSent in the query.
	c.version = "12.1"
	c.provision()
	old := "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: legacy\r\n\r\nold style\r\n"
	resp, _ = c.raw(http.MethodPost, c.url("SendMail")+"&SaveInSent=T", []byte(old), map[string]string{"Content-Type": "message/rfc822"})
	if resp.StatusCode != http.StatusOK || latest() != old {
		t.Errorf("12.1 SendMail: HTTP %d", resp.StatusCode)
	}
	if l, _ := e.store.List(e.ctx, e.folder(e.alice, store.RoleSent).ID); len(l) != 2 {
		t.Errorf("12.1 SaveInSent: %d in Sent", len(l))
	}
}

func TestItemOperationsErrorsAndEmpty(t *testing.T) {
	e := newEnv(t)
	c := e.client("dev1")
	c.provision()
	trash := e.folder(e.alice, store.RoleTrash)
	for range 3 {
		e.deliver(e.alice, store.RoleTrash, message("bob@example.com", "alice@example.com", "junk", "x"), time.Now())
	}
	sub, err := e.store.CreateFolder(e.ctx, store.AccountID(e.alice.ID), trash.ID, "old stuff", store.RoleNone)
	must(t, err)
	ns := wbxml.NSItemOperations
	r := c.do("ItemOperations", `<ItemOperations xmlns="ItemOperations:" xmlns:airsync="AirSync:" xmlns:airsyncbase="AirSyncBase:">`+
		`<Fetch><Store>Mailbox</Store><airsyncbase:FileReference>1:999:2</airsyncbase:FileReference></Fetch>`+
		`<Fetch><Store>Mailbox</Store><airsyncbase:FileReference>garbage</airsyncbase:FileReference></Fetch>`+
		`<Fetch><Store>DocumentLibrary</Store><airsync:ServerId>1:1</airsync:ServerId></Fetch>`+
		`<EmptyFolderContents><airsync:CollectionId>`+folderServerID(trash.ID)+`</airsync:CollectionId><Options><DeleteSubFolders/></Options></EmptyFolderContents>`+
		`</ItemOperations>`)
	var got []string
	for _, op := range r.Child(ns, "Response").Children {
		got = append(got, op.Name+"="+op.ChildText(ns, "Status"))
	}
	if !slices.Equal(got, []string{"Fetch=6", "Fetch=6", "Fetch=9", "EmptyFolderContents=1"}) {
		t.Errorf("statuses %v", got)
	}
	if l, _ := e.store.List(e.ctx, trash.ID); len(l) != 0 {
		t.Errorf("%d left in Deleted Items", len(l))
	}
	if _, err := e.store.Folder(e.ctx, sub.ID); err == nil {
		t.Error("subfolder kept")
	}
}

func TestGetAttachment(t *testing.T) {
	e := newEnv(t)
	raw := "From: bob@example.com\r\nTo: alice@example.com\r\nSubject: pic\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n" +
		"--b\r\nContent-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte("\x89PNG data")) + "\r\n--b--\r\n"
	d := e.deliver(e.alice, store.RoleInbox, raw, time.Now())
	c := e.client("old1")
	c.version = "14.1"
	ref := fileReference(d.Folder, d.UID, []int{2})
	resp, _ := c.raw(http.MethodPost, c.url("GetAttachment")+"&AttachmentName="+ref, nil, nil)
	if resp.StatusCode != statusNeedProvisioning {
		t.Errorf("unprovisioned GetAttachment: HTTP %d", resp.StatusCode)
	}
	c.provision()
	resp, body := c.raw(http.MethodPost, c.url("GetAttachment")+"&AttachmentName="+ref, nil, nil)
	if resp.StatusCode != http.StatusOK || string(body) != "\x89PNG data" || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("GetAttachment: HTTP %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, _ = c.raw(http.MethodPost, c.url("GetAttachment")+"&AttachmentName="+fileReference(d.Folder, d.UID, []int{7}), nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing part: HTTP %d", resp.StatusCode)
	}
	c.version = "16.1"
	c.provision()
	if resp, _ := c.raw(http.MethodPost, c.url("GetAttachment")+"&AttachmentName="+ref, nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("16.1 GetAttachment: HTTP %d", resp.StatusCode)
	}
}

// TestSyncRetryReplays checks a lost answer that carried a Fetch and a Change: the
// retry renders the same answer again from the store, and applies nothing twice.
func TestSyncRetryReplays(t *testing.T) {
	e := newEnv(t)
	d := e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "one", "first body"), time.Now())
	c, inbox, key := primed(t, e, "")
	ns := wbxml.NSAirSync
	key = collection(c.do("Sync", syncXML(inbox, key, ""))).ChildText(ns, "SyncKey")
	sid := itemServerID(d.Folder, d.UID)
	_, err := e.store.StoreFlags(e.ctx, store.FlagUpdate{Folder: d.Folder, UIDs: []store.UID{d.UID}, Op: store.FlagsAdd, Flags: []string{store.FlagSeen}})
	must(t, err)
	req := syncXML(inbox, key, `<Commands><Fetch><ServerId>`+sid+`</ServerId></Fetch><Fetch><ServerId>`+inbox+`:77</ServerId></Fetch></Commands>`)
	first := c.do("Sync", req)
	col := collection(first)
	if col.Child(ns, "Commands").Child(ns, "Change") == nil || len(col.Child(ns, "Responses").All(ns, "Fetch")) != 2 {
		t.Fatalf("first answer: %s", first.XML())
	}
	again := c.do("Sync", req)
	if string(again.XML()) != string(first.XML()) {
		t.Errorf("replay differs:\n%s\nwant\n%s", again.XML(), first.XML())
	}
	// The stored state keeps no message content.
	ref := stateRef{store.AccountID(e.alice.ID), c.deviceID, inbox}
	k, _ := parseKey(key)
	child, found, err := e.srv.childState(e.ctx, ref, k)
	must(t, err)
	if !found || strings.Contains(string(child.response), "first body") {
		t.Errorf("stored answer holds message content: %q", child.response)
	}
}

// TestSyncRenderCacheSharesNoState has two devices sync the same message, the second
// from the render cache, with a change to the message's flags and categories between
// them and different body preferences: each gets its own, current answer.
func TestSyncRenderCacheSharesNoState(t *testing.T) {
	e := newEnv(t)
	d := e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "cached", "a body of some length"), time.Now())
	inbox := folderServerID(d.Folder)
	ns := wbxml.NSAirSync
	sync := func(device, opts string) *wbxml.Element {
		c := e.client(device)
		c.provision()
		key := collection(c.do("Sync", syncXML(inbox, "0", opts))).ChildText(ns, "SyncKey")
		return collection(c.do("Sync", syncXML(inbox, key, opts))).Child(ns, "Commands").Child(ns, "Add").Child(ns, "ApplicationData")
	}
	plain := `<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type></airsyncbase:BodyPreference></Options>`
	truncated := `<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>` +
		`<airsyncbase:TruncationSize>4</airsyncbase:TruncationSize></airsyncbase:BodyPreference></Options>`
	first := sync("one", plain)
	_, err := e.store.StoreFlags(e.ctx, store.FlagUpdate{Folder: d.Folder, UIDs: []store.UID{d.UID}, Op: store.FlagsAdd, Flags: []string{store.FlagSeen, store.FlagFlagged}})
	must(t, err)
	tests := []struct {
		name, device, opts string
		read, flagged      bool
		data               string
	}{
		{"first device, before the change", "", "", false, false, "a body of some length"},
		{"same options, after the change", "two", plain, true, true, "a body of some length"},
		{"other truncation", "three", truncated, true, true, "a bo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := first
			if tt.device != "" {
				data = sync(tt.device, tt.opts)
			}
			if got := data.ChildText(wbxml.NSEmail, "Read") == "1"; got != tt.read {
				t.Errorf("Read %v, want %v: %s", got, tt.read, data.XML())
			}
			if got := data.Child(wbxml.NSEmail, "Flag").ChildText(wbxml.NSEmail, "Status") == "2"; got != tt.flagged {
				t.Errorf("flagged %v, want %v: %s", got, tt.flagged, data.XML())
			}
			if got := strings.TrimSpace(data.Child(wbxml.NSAirSyncBase, "Body").ChildText(wbxml.NSAirSyncBase, "Data")); got != tt.data {
				t.Errorf("body %q, want %q", got, tt.data)
			}
		})
	}
}
