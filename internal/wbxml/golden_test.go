package wbxml

import (
	"bytes"
	"testing"
)

// Golden vectors written by hand from the code page tables and the examples
// of [MS-ASWBXML] and [MS-ASCMD]; each is checked both ways: the bytes decode
// to the XML, and the XML encodes to exactly these bytes.
var goldenTests = []struct {
	name string
	wire string
	xml  string
}{
	{
		// [MS-ASCMD] FolderSync: the first request of a device.
		name: "FolderSync request",
		wire: `03 01 6A 00 00 07 56 52 03 "0" 00 01 01`,
		xml:  `<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>`,
	},
	{
		// The encoding example of [MS-ASWBXML]: a Sync response adding a contact.
		// Page 0 is current at the start, so no SWITCH_PAGE precedes Sync.
		name: "Sync response with contact (MS-ASWBXML example)",
		wire: `03 01 6A 00 45 5C 4F
			50 03 "Contacts" 00 01
			4B 03 "2" 00 01
			52 03 "2" 00 01
			4E 03 "1" 00 01
			56 47 4D 03 "2:1" 00 01
			5D 00 11 4A
			46 03 "1" 00 01
			4C 03 "0" 00 01
			4D 03 "1" 00 01
			01
			00 01 5E 03 "Funk, Don" 00 01
			5F 03 "Don" 00 01
			69 03 "Funk" 00 01
			00 11 56 03 "1" 00 01
			01 01 01 01 01 01`,
		xml: `<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase" xmlns:contacts="Contacts">
			<Collections><Collection><Class>Contacts</Class><SyncKey>2</SyncKey><CollectionId>2</CollectionId><Status>1</Status>
			<Commands><Add><ServerId>2:1</ServerId><ApplicationData>
			<airsyncbase:Body><airsyncbase:Type>1</airsyncbase:Type><airsyncbase:EstimatedDataSize>0</airsyncbase:EstimatedDataSize><airsyncbase:Truncated>1</airsyncbase:Truncated></airsyncbase:Body>
			<contacts:FileAs>Funk, Don</contacts:FileAs><contacts:FirstName>Don</contacts:FirstName><contacts:LastName>Funk</contacts:LastName>
			<airsyncbase:NativeBodyType>1</airsyncbase:NativeBodyType>
			</ApplicationData></Add></Commands></Collection></Collections></Sync>`,
	},
	{
		// [MS-ASCMD] Sync: the initial Sync of a folder, SyncKey 0.
		name: "Sync request",
		wire: `03 01 6A 00 45 5C 4F 4B 03 "0" 00 01 52 03 "1" 00 01 01 01 01`,
		xml:  `<Sync xmlns="AirSync:"><Collections><Collection><SyncKey>0</SyncKey><CollectionId>1</CollectionId></Collection></Collections></Sync>`,
	},
	{
		// [MS-ASPROV]: the initial Provision request of a 14.1+ client,
		// DeviceInformation on the Settings page (18, 0x12).
		name: "Provision request",
		wire: `03 01 6A 00 00 0E 45
			00 12 56 48 57 03 "iPhone" 00 01 01 01
			00 0E 46 47 48 03 "MS-EAS-Provisioning-WBXML" 00 01 01 01
			01`,
		xml: `<Provision xmlns="Provision:" xmlns:settings="Settings:"><settings:DeviceInformation><settings:Set><settings:Model>iPhone</settings:Model></settings:Set></settings:DeviceInformation>
			<Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>`,
	},
	{
		// [MS-ASCMD] Ping: heartbeat and one folder.
		name: "Ping request",
		wire: `03 01 6A 00 00 0D 45 48 03 "480" 00 01 49 4A 4B 03 "1" 00 01 4C 03 "Email" 00 01 01 01 01`,
		xml:  `<Ping xmlns="Ping:"><HeartbeatInterval>480</HeartbeatInterval><Folders><Folder><Id>1</Id><Class>Email</Class></Folder></Folders></Ping>`,
	},
	{
		// [MS-ASCMD] SendMail (14.0+) carries the message as OPAQUE in
		// ComposeMail:Mime; SaveInSentItems is an empty tag (no 0x40 bit).
		name: "SendMail with opaque MIME",
		wire: `03 01 6A 00 00 15 45 51 03 "1" 00 01 08 50 C3 0D "To: a@b" 0D 0A 0D 0A "hi" 01 01`,
		xml:  `<SendMail xmlns="ComposeMail:"><ClientId>1</ClientId><SaveInSentItems/><Mime>VG86IGFAYg0KDQpoaQ==</Mime></SendMail>`,
	},
	{
		// An opaque ConversationId and a Find request on code page 25,
		// which is newer than libwbxml's tables.
		name: "Find request",
		wire: `03 01 6A 00 00 19 45 46 03 "s1" 00 01 47 48 49 00 00 50 03 "Email" 00 01 00 19 4B 03 "lunch" 00 01 01 01 01 01`,
		xml: `<Find xmlns="Find:" xmlns:airsync="AirSync:"><SearchId>s1</SearchId><ExecuteSearch><MailBoxSearchCriterion><Query>
			<airsync:Class>Email</airsync:Class><FreeText>lunch</FreeText></Query></MailBoxSearchCriterion></ExecuteSearch></Find>`,
	},
	{
		// Email2:ConversationId is binary: base64 in XML, OPAQUE on the wire.
		name: "ConversationId",
		wire: `03 01 6A 00 00 14 45 56 58 C3 04 DE AD BE EF 01 01 01`,
		xml:  `<ItemOperations xmlns="ItemOperations:"><Move><ConversationId>3q2+7w==</ConversationId></Move></ItemOperations>`,
	},
}

func TestGolden(t *testing.T) {
	for _, tt := range goldenTests {
		t.Run(tt.name, func(t *testing.T) {
			b := wire(t, tt.wire)
			want, err := ParseXML([]byte(tt.xml))
			if err != nil {
				t.Fatalf("ParseXML: %v", err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !got.Equal(want) {
				t.Errorf("Decode =\n%s\nwant\n%s", got.XML(), want.XML())
			}
			enc, err := Encode(want)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if !bytes.Equal(enc, b) {
				t.Errorf("Encode =\n% X\nwant\n% X", enc, b)
			}
		})
	}
}

// TestLongOpaque checks a multi-byte mb_u_int32 length: 200 is 0x81 0x48
// (WBXML 1.3 section 5.1, most significant group first).
func TestLongOpaque(t *testing.T) {
	data := bytes.Repeat([]byte{0xAB}, 200)
	root := New(NSComposeMail, "SendMail")
	root.AddOpaque(NSComposeMail, "Mime", data)
	b, err := Encode(root)
	if err != nil {
		t.Fatal(err)
	}
	want := append(wire(t, `03 01 6A 00 00 15 45 50 C3 81 48`), data...)
	want = append(want, 0x01, 0x01)
	if !bytes.Equal(b, want) {
		t.Fatalf("Encode = % X", b)
	}
	got, err := Decode(b)
	if err != nil || !got.Equal(root) {
		t.Fatalf("Decode = %v, %v", got, err)
	}
}

// TestFixtures checks every XML fixture survives Encode, Decode, XML and
// ParseXML unchanged.
func TestFixtures(t *testing.T) {
	for _, f := range fixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			b, err := Encode(f.tree)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !got.Equal(f.tree) {
				t.Fatalf("Decode(Encode) =\n%s\nwant\n%s", got.XML(), f.tree.XML())
			}
			again, err := ParseXML(got.XML())
			if err != nil {
				t.Fatalf("ParseXML(XML): %v\n%s", err, got.XML())
			}
			if !again.Equal(f.tree) {
				t.Fatalf("ParseXML(XML) =\n%s\nwant\n%s", again.XML(), f.tree.XML())
			}
		})
	}
}
