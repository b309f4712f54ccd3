package activesync

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// TestIPhoneNewAccount plays the sequence an iPhone runs for a new Exchange account,
// then the mail life that follows, over HTTPS against a real store.
func TestIPhoneNewAccount(t *testing.T) {
	e := newEnv(t)
	c := e.client("ApplF17ABCDEF01")
	ns := wbxml.NSAirSync
	inbox := e.folder(e.alice, store.RoleInbox)
	inboxID := folderServerID(inbox.ID)

	// OPTIONS: versions and commands.
	resp, _ := c.raw(http.MethodOptions, e.ts.URL+"/Microsoft-Server-ActiveSync", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OPTIONS: HTTP %d", resp.StatusCode)
	}
	if got := resp.Header.Get("MS-ASProtocolVersions"); got != "12.1,14.0,14.1,16.0,16.1" {
		t.Errorf("MS-ASProtocolVersions %q", got)
	}
	for _, cmd := range strings.Split(advertisedCommands, ",") {
		if _, ok := handlerFor(cmd); !ok {
			t.Errorf("advertised command %s has no handler", cmd)
		}
	}
	if resp.Header.Get("MS-ASProtocolCommands") != advertisedCommands || resp.Header.Get("MS-Server-ActiveSync") == "" {
		t.Errorf("OPTIONS headers %v", resp.Header)
	}

	// Before provisioning, FolderSync is refused with 142.
	r := c.do("FolderSync", fixture(t, "foldersync-initial.xml"))
	if s := status(r, wbxml.NSFolderHierarchy); s != "142" {
		t.Fatalf("unprovisioned FolderSync status %s", s)
	}

	// Provision, both phases.
	r = c.do("Provision", fixture(t, "provision-request.xml"))
	golden(t, "provision-response.xml", r)
	temp := r.Child(wbxml.NSProvision, "Policies").Child(wbxml.NSProvision, "Policy").ChildText(wbxml.NSProvision, "PolicyKey")
	r = c.do("Provision", strings.ReplaceAll(fixture(t, "provision-ack.xml"), "$KEY", temp))
	golden(t, "provision-ack-response.xml", r)
	c.policyKey = r.Child(wbxml.NSProvision, "Policies").Child(wbxml.NSProvision, "Policy").ChildText(wbxml.NSProvision, "PolicyKey")
	if c.policyKey == temp || c.policyKey == "" {
		t.Fatalf("final key %q, temporary %q", c.policyKey, temp)
	}
	// The keys stay the same while the policy does.
	first := c.policyKey
	c.provision()
	if c.policyKey != first {
		t.Errorf("policy key changed from %s to %s with the same policy", first, c.policyKey)
	}
	dev, err := e.srv.Device(e.ctx, "alice@example.com", c.deviceID)
	must(t, err)
	if dev.Model != "iPhone15,2" || dev.OS != "iOS 17.4.1 21E236" || dev.Access != AccessAllow || dev.PolicyStatus != 1 || dev.Version != "16.1" {
		t.Errorf("device record %+v", dev)
	}

	// FolderSync from 0: every folder with its type.
	r = c.do("FolderSync", fixture(t, "foldersync-initial.xml"))
	golden(t, "foldersync-response.xml", r)
	types := map[string]string{}
	for _, a := range r.Child(wbxml.NSFolderHierarchy, "Changes").All(wbxml.NSFolderHierarchy, "Add") {
		types[a.ChildText(wbxml.NSFolderHierarchy, "ServerId")] = a.ChildText(wbxml.NSFolderHierarchy, "Type")
	}
	if types[inboxID] != "2" || types[folderServerID(e.folder(e.alice, store.RoleTrash).ID)] != "4" ||
		types[folderServerID(e.folder(e.alice, store.RoleSent).ID)] != "5" {
		t.Errorf("folder types %v", types)
	}
	hierKey := r.ChildText(wbxml.NSFolderHierarchy, "SyncKey")
	r = c.do("FolderSync", `<FolderSync xmlns="FolderHierarchy:"><SyncKey>`+hierKey+`</SyncKey></FolderSync>`)
	if n := r.Child(wbxml.NSFolderHierarchy, "Changes").ChildText(wbxml.NSFolderHierarchy, "Count"); n != "0" {
		t.Errorf("second FolderSync reports %s changes", n)
	}

	// Sync Inbox from 0, twice as iOS does: each restart is clean.
	syncReq := func(key string, window int) string {
		x := fixture(t, "sync-inbox-options.xml")
		x = strings.ReplaceAll(x, "$KEY", key)
		x = strings.ReplaceAll(x, "$COLLECTION", inboxID)
		return strings.ReplaceAll(x, "$WINDOW", strconv.Itoa(window))
	}
	r = c.do("Sync", syncReq("0", 50))
	k1 := collection(r).ChildText(ns, "SyncKey")
	r = c.do("Sync", syncReq("0", 50))
	key := collection(r).ChildText(ns, "SyncKey")
	if key == k1 || collection(r).ChildText(ns, "Status") != "1" {
		t.Fatalf("repeated key 0: %s", r.XML())
	}
	if s := collection(c.do("Sync", syncReq(k1, 50))).ChildText(ns, "Status"); s != "3" {
		t.Errorf("key from before the restart: status %s, want 3", s)
	}

	// 120 messages arrive; a window of 50 brings them in three rounds, newest first,
	// none twice and none skipped.
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range 120 {
		e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", fmt.Sprintf("msg %03d", i), "body"), base.Add(time.Duration(i)*time.Minute))
	}
	seen := map[string]bool{}
	var rounds []int
	var prevKey string
	for round := 0; ; round++ {
		r = c.do("Sync", syncReq(key, 50))
		col := collection(r)
		adds := col.Child(ns, "Commands").All(ns, "Add")
		rounds = append(rounds, len(adds))
		for _, a := range adds {
			sid := a.ChildText(ns, "ServerId")
			if seen[sid] {
				t.Fatalf("%s sent twice", sid)
			}
			seen[sid] = true
		}
		if round == 0 {
			subj := adds[0].Child(ns, "ApplicationData").ChildText(wbxml.NSEmail, "Subject")
			if subj != "msg 119" {
				t.Errorf("first add is %q, want the newest", subj)
			}
		}
		if round == 1 {
			// The answer is lost: the device presents the same key again and must get
			// the same answer.
			if again := c.do("Sync", syncReq(key, 50)).XML(); !bytes.Equal(again, r.XML()) {
				t.Errorf("retry with the previous key answered differently:\n%.600s\nwant\n%.600s", again, r.XML())
			}
			prevKey = key
		}
		key = col.ChildText(ns, "SyncKey")
		if col.Child(ns, "MoreAvailable") == nil {
			break
		}
		if round > 5 {
			t.Fatal("MoreAvailable never ends")
		}
	}
	if !slices.Equal(rounds, []int{50, 50, 20}) || len(seen) != 120 {
		t.Errorf("rounds %v, %d distinct", rounds, len(seen))
	}

	// Once the newer key was used, the one before it is gone.
	if s := collection(c.do("Sync", syncReq(prevKey, 50))).ChildText(ns, "Status"); s != "3" {
		t.Errorf("superseded key: status %s, want 3", s)
	}
	r = c.do("Sync", syncReq(key, 50))
	if col := collection(r); col.ChildText(ns, "SyncKey") != key || col.Child(ns, "Commands") != nil {
		t.Errorf("Sync without changes: %s", r.XML())
	}

	// Ping wakes within a second of a delivery.
	type pingResult struct {
		el  *wbxml.Element
		err string
	}
	done := make(chan pingResult, 1)
	pc := *c
	go func() {
		resp, el := pc.send("Ping", `<Ping xmlns="Ping:"><HeartbeatInterval>300</HeartbeatInterval><Folders><Folder><Id>`+
			inboxID+`</Id><Class>Email</Class></Folder></Folders></Ping>`)
		if resp.StatusCode != http.StatusOK || el == nil {
			done <- pingResult{err: fmt.Sprintf("HTTP %d", resp.StatusCode)}
			return
		}
		done <- pingResult{el: el}
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case p := <-done:
		t.Fatalf("Ping answered before any change: %v %s", p.err, p.el.XML())
	default:
	}
	delivered := time.Now()
	e.deliver(e.alice, store.RoleInbox, message("bob@example.com", "alice@example.com", "pushed", "hello"), time.Now())
	select {
	case p := <-done:
		if p.el == nil {
			t.Fatal(p.err)
		}
		if time.Since(delivered) > time.Second {
			t.Errorf("Ping answered %v after the delivery", time.Since(delivered))
		}
		if s := status(p.el, wbxml.NSPing); s != "2" || p.el.Child(wbxml.NSPing, "Folders").ChildText(wbxml.NSPing, "Folder") != inboxID {
			t.Errorf("Ping answer %s", p.el.XML())
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Ping not woken by a delivery")
	}
	r = c.do("Sync", syncReq(key, 50))
	adds := collection(r).Child(ns, "Commands").All(ns, "Add")
	if len(adds) != 1 || adds[0].Child(ns, "ApplicationData").ChildText(wbxml.NSEmail, "Subject") != "pushed" {
		t.Fatalf("after Ping: %s", r.XML())
	}
	pushedID := adds[0].ChildText(ns, "ServerId")
	key = collection(r).ChildText(ns, "SyncKey")

	// A flag set in the store, as IMAP would, arrives as a Change.
	_, uid, _ := parseItemID(pushedID)
	_, err = e.store.StoreFlags(e.ctx, store.FlagUpdate{Folder: inbox.ID, UIDs: []store.UID{uid}, Op: store.FlagsAdd, Flags: []string{store.FlagFlagged}})
	must(t, err)
	r = c.do("Sync", syncReq(key, 50))
	ch := collection(r).Child(ns, "Commands").Child(ns, "Change")
	if ch.ChildText(ns, "ServerId") != pushedID ||
		ch.Child(ns, "ApplicationData").Child(wbxml.NSEmail, "Flag").ChildText(wbxml.NSEmail, "Status") != "2" {
		t.Fatalf("flag change: %s", r.XML())
	}
	key = collection(r).ChildText(ns, "SyncKey")

	// The device marks it read: the store has \Seen and the change is not echoed.
	r = c.do("Sync", syncXML(inboxID, key, `<Commands><Change><ServerId>`+pushedID+
		`</ServerId><ApplicationData><email:Read>1</email:Read></ApplicationData></Change></Commands>`))
	key = collection(r).ChildText(ns, "SyncKey")
	if collection(r).Child(ns, "Commands") != nil {
		t.Errorf("own change echoed: %s", r.XML())
	}
	m, err := e.store.MessageByUID(e.ctx, inbox.ID, uid)
	must(t, err)
	if !slices.Contains(m.Flags, store.FlagSeen) {
		t.Errorf("flags after Read: %v", m.Flags)
	}

	// A delete over EAS moves the message to Deleted Items.
	r = c.do("Sync", syncXML(inboxID, key, `<Commands><Delete><ServerId>`+pushedID+`</ServerId></Delete></Commands>`))
	key = collection(r).ChildText(ns, "SyncKey")
	if _, err := e.store.MessageByUID(e.ctx, inbox.ID, uid); err == nil {
		t.Error("deleted message still in the Inbox")
	}
	trash, err := e.store.List(e.ctx, e.folder(e.alice, store.RoleTrash).ID)
	must(t, err)
	if len(trash) != 1 {
		t.Errorf("Deleted Items holds %d messages", len(trash))
	}

	// SendMail: Bob gets it, Alice's Sent keeps a copy.
	mimeMsg := "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: Lunch\r\nMessage-ID: <lunch@example.com>\r\n\r\nNoon?\r\n"
	resp, el := c.send("SendMail", `<SendMail xmlns="ComposeMail:"><ClientId>c1</ClientId><SaveInSentItems/><Mime>`+
		base64.StdEncoding.EncodeToString([]byte(mimeMsg))+`</Mime></SendMail>`)
	if resp.StatusCode != http.StatusOK || el != nil {
		t.Fatalf("SendMail: HTTP %d %v", resp.StatusCode, el)
	}
	bobInbox, err := e.store.List(e.ctx, e.folder(e.bob, store.RoleInbox).ID)
	must(t, err)
	sent, err := e.store.List(e.ctx, e.folder(e.alice, store.RoleSent).ID)
	must(t, err)
	if len(bobInbox) != 1 || len(sent) != 1 {
		t.Errorf("after SendMail: bob's inbox %d, alice's sent %d", len(bobInbox), len(sent))
	}

	// MoveItems: the message moves in the store; the Inbox Sync does not report it.
	moving := itemServerID(inbox.ID, 1)
	archive := e.folder(e.alice, store.RoleArchive)
	r = c.do("MoveItems", `<MoveItems xmlns="Move:"><Move><SrcMsgId>`+moving+`</SrcMsgId><SrcFldId>`+inboxID+
		`</SrcFldId><DstFldId>`+folderServerID(archive.ID)+`</DstFldId></Move></MoveItems>`)
	mr := r.Child(wbxml.NSMove, "Response")
	if mr.ChildText(wbxml.NSMove, "Status") != "3" || !strings.HasPrefix(mr.ChildText(wbxml.NSMove, "DstMsgId"), folderServerID(archive.ID)+":") {
		t.Fatalf("MoveItems: %s", r.XML())
	}
	if list, _ := e.store.List(e.ctx, archive.ID); len(list) != 1 {
		t.Errorf("archive holds %d", len(list))
	}
	r = c.do("Sync", syncReq(key, 50))
	if collection(r).Child(ns, "Commands") != nil {
		t.Errorf("moved item reported back: %s", r.XML())
	}

	// ItemOperations: a message's MIME and an attachment by FileReference.
	att := []byte("%PDF-1.4 fake pdf \x00\x01\x02")
	withAtt := "From: bob@example.com\r\nTo: alice@example.com\r\nSubject: report\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--b1\r\nContent-Type: application/pdf; name=report.pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(att) + "\r\n--b1--\r\n"
	d := e.deliver(e.alice, store.RoleInbox, withAtt, time.Now())
	r = c.do("Sync", syncReq(key, 50))
	key = collection(r).ChildText(ns, "SyncKey")
	ad := collection(r).Child(ns, "Commands").Child(ns, "Add").Child(ns, "ApplicationData")
	a := ad.Child(wbxml.NSAirSyncBase, "Attachments").Child(wbxml.NSAirSyncBase, "Attachment")
	if a.ChildText(wbxml.NSAirSyncBase, "DisplayName") != "report.pdf" {
		t.Fatalf("attachment: %s", r.XML())
	}
	if body := ad.Child(wbxml.NSAirSyncBase, "Body").ChildText(wbxml.NSAirSyncBase, "Data"); body != "see attached" {
		t.Errorf("body %q", body)
	}
	ref := a.ChildText(wbxml.NSAirSyncBase, "FileReference")
	r = c.do("ItemOperations", `<ItemOperations xmlns="ItemOperations:" xmlns:airsync="AirSync:" xmlns:airsyncbase="AirSyncBase:">`+
		`<Fetch><Store>Mailbox</Store><airsyncbase:FileReference>`+ref+`</airsyncbase:FileReference></Fetch>`+
		`<Fetch><Store>Mailbox</Store><airsync:CollectionId>`+inboxID+`</airsync:CollectionId><airsync:ServerId>`+
		itemServerID(inbox.ID, d.UID)+`</airsync:ServerId><Options><airsync:MIMESupport>2</airsync:MIMESupport>`+
		`<airsyncbase:BodyPreference><airsyncbase:Type>4</airsyncbase:Type></airsyncbase:BodyPreference></Options></Fetch></ItemOperations>`)
	fetches := r.Child(wbxml.NSItemOperations, "Response").All(wbxml.NSItemOperations, "Fetch")
	if len(fetches) != 2 {
		t.Fatalf("ItemOperations: %s", r.XML())
	}
	data, err := base64.StdEncoding.DecodeString(fetches[0].Child(wbxml.NSItemOperations, "Properties").ChildText(wbxml.NSItemOperations, "Data"))
	must(t, err)
	if !bytes.Equal(data, att) {
		t.Errorf("attachment bytes %q", data)
	}
	body := fetches[1].Child(wbxml.NSItemOperations, "Properties").Child(wbxml.NSAirSyncBase, "Body")
	if body.ChildText(wbxml.NSAirSyncBase, "Type") != "4" || body.ChildText(wbxml.NSAirSyncBase, "Data") != withAtt {
		t.Errorf("MIME fetch: %s", fetches[1].XML())
	}

	// Remote wipe: the next command gets 140, Provision orders the wipe, the device
	// acknowledges and the server records it.
	must(t, e.srv.Wipe(e.ctx, "alice@example.com", c.deviceID, false))
	r = c.do("Sync", syncReq(key, 50))
	if s := status(r, ns); s != "140" {
		t.Fatalf("with a wipe pending: %s", r.XML())
	}
	r = c.do("Provision", `<Provision xmlns="Provision:"/>`)
	if r.Child(wbxml.NSProvision, "RemoteWipe") == nil {
		t.Fatalf("Provision with a wipe pending: %s", r.XML())
	}
	r = c.do("Provision", `<Provision xmlns="Provision:"><RemoteWipe><Status>1</Status></RemoteWipe></Provision>`)
	if status(r, wbxml.NSProvision) != "1" {
		t.Errorf("wipe acknowledgement answer: %s", r.XML())
	}
	dev, err = e.srv.Device(e.ctx, "alice@example.com", c.deviceID)
	must(t, err)
	if dev.Wipe != WipeAcknowledged || dev.WipeAcknowledged.IsZero() {
		t.Errorf("after acknowledgement: wipe %s at %v", dev.Wipe, dev.WipeAcknowledged)
	}

	// Account-only wipe on a second device.
	c2 := e.client("ApplF17SECOND02")
	c2.provision()
	must(t, e.srv.Wipe(e.ctx, "alice@example.com", c2.deviceID, true))
	r = c2.do("Provision", `<Provision xmlns="Provision:"/>`)
	if r.Child(wbxml.NSProvision, "AccountOnlyRemoteWipe") == nil || r.Child(wbxml.NSProvision, "RemoteWipe") != nil {
		t.Fatalf("account-only wipe: %s", r.XML())
	}
	c2.do("Provision", `<Provision xmlns="Provision:"><AccountOnlyRemoteWipe><Status>1</Status></AccountOnlyRemoteWipe></Provision>`)
	dev, err = e.srv.Device(e.ctx, `EXAMPLE\asmith`, c2.deviceID) // any login form names the user

	must(t, err)
	if dev.Wipe != WipeAcknowledgedAccountOnly {
		t.Errorf("account-only wipe state %s", dev.Wipe)
	}
	devs, err := e.srv.ListDevices(e.ctx, "alice@example.com")
	must(t, err)
	if len(devs) != 2 {
		t.Errorf("%d devices listed", len(devs))
	}
	must(t, e.srv.RemoveDevice(e.ctx, "alice@example.com", c2.deviceID))
	if _, err := e.srv.Device(e.ctx, "alice@example.com", c2.deviceID); err == nil {
		t.Error("removed device still there")
	}
}
