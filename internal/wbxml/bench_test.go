package wbxml

import (
	"fmt"
	"testing"
)

// syncResponse builds a Sync response carrying n new e-mails, the shape of
// the largest documents a server writes.
func syncResponse(n int) *Element {
	root := New(NSAirSync, "Sync")
	coll := root.Add(NSAirSync, "Collections").Add(NSAirSync, "Collection")
	coll.AddText(NSAirSync, "SyncKey", "42")
	coll.AddText(NSAirSync, "CollectionId", "1")
	coll.AddText(NSAirSync, "Status", "1")
	cmds := coll.Add(NSAirSync, "Commands")
	for i := 0; i < n; i++ {
		add := cmds.Add(NSAirSync, "Add")
		add.AddText(NSAirSync, "ServerId", fmt.Sprintf("1:%d", i))
		data := add.Add(NSAirSync, "ApplicationData")
		data.AddText(NSEmail, "To", `"Jane Doe" <jane@example.org>`)
		data.AddText(NSEmail, "From", `"Joe Bloggs" <joe@example.org>`)
		data.AddText(NSEmail, "Subject", fmt.Sprintf("Quarterly report, part %d", i))
		data.AddText(NSEmail, "DateReceived", "2024-05-01T12:00:00.000Z")
		data.AddText(NSEmail, "DisplayTo", "Jane Doe")
		data.AddText(NSEmail, "Importance", "1")
		data.AddText(NSEmail, "Read", "0")
		body := data.Add(NSAirSyncBase, "Body")
		body.AddText(NSAirSyncBase, "Type", "2")
		body.AddText(NSAirSyncBase, "EstimatedDataSize", "5120")
		body.AddText(NSAirSyncBase, "Truncated", "1")
		body.AddText(NSAirSyncBase, "Data", "<html><body><p>Please find the figures below. The totals are final.</p></body></html>")
		data.AddText(NSEmail, "MessageClass", "IPM.Note")
		data.AddText(NSEmail, "InternetCPID", "65001")
		data.AddText(NSAirSyncBase, "NativeBodyType", "2")
		data.AddOpaque(NSEmail2, "ConversationId", []byte("0123456789abcdef"))
		data.AddOpaque(NSEmail2, "ConversationIndex", []byte{1, 2, 3, 4, 5})
	}
	return root
}

func BenchmarkDecodeSync50(b *testing.B) {
	doc, err := Encode(syncResponse(50))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSync50(b *testing.B) {
	root := syncResponse(50)
	doc, err := Encode(root)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(root); err != nil {
			b.Fatal(err)
		}
	}
}
