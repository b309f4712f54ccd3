package imapwire

import (
	"bufio"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// read parses one command from in with a Reader that accepts every literal.
func read(in string, utf8 bool) (*Command, error) {
	r := NewReader(bufio.NewReader(strings.NewReader(in)), Options{UTF8: utf8})
	return r.ReadCommand()
}

func set(ranges ...SeqRange) SeqSet { return SeqSet{Ranges: ranges} }
func one(n uint32) SeqRange         { return SeqRange{n, n} }
func ptr[T any](v T) *T             { return &v }

func TestParseCommands(t *testing.T) {
	tests := []struct {
		in   string
		want *Command
	}{
		{"a1 CAPABILITY\r\n", &Command{Tag: "a1", Name: "CAPABILITY"}},
		{"a1 noop\r\n", &Command{Tag: "a1", Name: "NOOP"}},
		{"a LOGOUT\r\n", &Command{Tag: "a", Name: "LOGOUT"}},
		{"a STARTTLS\r\n", &Command{Tag: "a", Name: "STARTTLS"}},
		{"a CHECK\r\n", &Command{Tag: "a", Name: "CHECK"}},
		{"a CLOSE\r\n", &Command{Tag: "a", Name: "CLOSE"}},
		{"a UNSELECT\r\n", &Command{Tag: "a", Name: "UNSELECT"}},
		{"a NAMESPACE\r\n", &Command{Tag: "a", Name: "NAMESPACE"}},
		{"a IDLE\r\n", &Command{Tag: "a", Name: "IDLE"}},
		{"a EXPUNGE\r\n", &Command{Tag: "a", Name: "EXPUNGE"}},
		{"a UID EXPUNGE 3:5,7\r\n", &Command{Tag: "a", Name: "EXPUNGE", UID: true,
			Args: &Expunge{Set: set(SeqRange{3, 5}, one(7))}}},
		{"a LOGIN alice \"pa\\\"ss\"\r\n", &Command{Tag: "a", Name: "LOGIN",
			Args: &Login{Username: "alice", Password: `pa"ss`}}},
		{"a LOGIN {5}\r\nalice {3}\r\nb c\r\n", &Command{Tag: "a", Name: "LOGIN",
			Args: &Login{Username: "alice", Password: "b c"}}},
		{"a LOGIN x] y\r\n", &Command{Tag: "a", Name: "LOGIN", Args: &Login{Username: "x]", Password: "y"}}},
		{"a AUTHENTICATE plain\r\n", &Command{Tag: "a", Name: "AUTHENTICATE",
			Args: &Authenticate{Mechanism: "PLAIN"}}},
		{"a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n", &Command{Tag: "a", Name: "AUTHENTICATE",
			Args: &Authenticate{Mechanism: "PLAIN", InitialResponse: []byte("\x00alice\x00secret")}}},
		{"a AUTHENTICATE EXTERNAL =\r\n", &Command{Tag: "a", Name: "AUTHENTICATE",
			Args: &Authenticate{Mechanism: "EXTERNAL", InitialResponse: []byte{}}}},
		{"a ENABLE CONDSTORE qresync\r\n", &Command{Tag: "a", Name: "ENABLE",
			Args: &Enable{Capabilities: []string{"CONDSTORE", "QRESYNC"}}}},
		{"a ID NIL\r\n", &Command{Tag: "a", Name: "ID", Args: &ID{}}},
		{"a ID (\"name\" \"Thunderbird\" \"version\" NIL)\r\n", &Command{Tag: "a", Name: "ID",
			Args: &ID{Params: []IDParam{{Field: "name", Value: "Thunderbird"}, {Field: "version", Nil: true}}}}},
		{"a SELECT inbox\r\n", &Command{Tag: "a", Name: "SELECT", Args: &Select{Mailbox: "INBOX"}}},
		{"a EXAMINE \"Sent Items\"\r\n", &Command{Tag: "a", Name: "EXAMINE",
			Args: &Select{Mailbox: "Sent Items", ReadOnly: true}}},
		{"a SELECT Entw&APw-rfe (CONDSTORE)\r\n", &Command{Tag: "a", Name: "SELECT",
			Args: &Select{Mailbox: "Entwürfe", CondStore: true}}},
		{"a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
			&Command{Tag: "a", Name: "SELECT", Args: &Select{Mailbox: "INBOX", QResync: &QResync{
				UIDValidity: 67890007, ModSeq: 20050715194045000,
				KnownUIDs: ptr(set(one(41), SeqRange{43, 211}, SeqRange{214, 541}))}}}},
		{"a SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n",
			&Command{Tag: "a", Name: "SELECT", Args: &Select{Mailbox: "INBOX", QResync: &QResync{
				UIDValidity: 67890007, ModSeq: 90060115194045000,
				KnownUIDs:    ptr(set(SeqRange{1, 29997})),
				KnownSeqs:    ptr(set(one(5000), one(7500), one(9000), SeqRange{9990, 9999})),
				KnownSeqUIDs: ptr(set(one(15000), one(22500), one(27000), one(29970), one(29973), one(29976), one(29979), one(29982), one(29985), one(29988), one(29991), one(29994), one(29997))),
			}}}},
		{"a SELECT INBOX (QRESYNC (1 2 (3 4)))\r\n", &Command{Tag: "a", Name: "SELECT", Args: &Select{
			Mailbox: "INBOX", QResync: &QResync{UIDValidity: 1, ModSeq: 2, KnownSeqs: ptr(set(one(3))), KnownSeqUIDs: ptr(set(one(4)))}}}},
		{"a CREATE foo/bar\r\n", &Command{Tag: "a", Name: "CREATE", Args: &Create{Mailbox: "foo/bar"}}},
		{"a CREATE MyDrafts (USE (\\Drafts \\Sent))\r\n", &Command{Tag: "a", Name: "CREATE",
			Args: &Create{Mailbox: "MyDrafts", SpecialUse: []string{`\Drafts`, `\Sent`}}}},
		{"a DELETE &AOQ-\r\n", &Command{Tag: "a", Name: "DELETE", Args: &Delete{Mailbox: "ä"}}},
		{"a RENAME a b\r\n", &Command{Tag: "a", Name: "RENAME", Args: &Rename{From: "a", To: "b"}}},
		{"a SUBSCRIBE x\r\n", &Command{Tag: "a", Name: "SUBSCRIBE", Args: &Subscribe{Mailbox: "x"}}},
		{"a UNSUBSCRIBE x\r\n", &Command{Tag: "a", Name: "UNSUBSCRIBE", Args: &Unsubscribe{Mailbox: "x"}}},
		{"a LIST \"\" *\r\n", &Command{Tag: "a", Name: "LIST", Args: &List{Patterns: []string{"*"}}}},
		{"a LIST \"\" %/x]\r\n", &Command{Tag: "a", Name: "LIST", Args: &List{Patterns: []string{"%/x]"}}}},
		{"a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX \"Other*\") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))\r\n",
			&Command{Tag: "a", Name: "LIST", Args: &List{Patterns: []string{"INBOX", "Other*"}, Extended: true,
				Select: ListSelect{Subscribed: true, RecursiveMatch: true},
				Return: ListReturn{Children: true, SpecialUse: true, Status: []string{"MESSAGES", "UNSEEN"}}}}},
		{"a LIST () \"\" % RETURN (SUBSCRIBED)\r\n", &Command{Tag: "a", Name: "LIST", Args: &List{
			Patterns: []string{"%"}, Extended: true, Return: ListReturn{Subscribed: true}}}},
		{"a LIST (SPECIAL-USE REMOTE) \"\" *\r\n", &Command{Tag: "a", Name: "LIST", Args: &List{
			Patterns: []string{"*"}, Extended: true, Select: ListSelect{SpecialUse: true, Remote: true}}}},
		{"a LSUB \"#news.\" comp.%\r\n", &Command{Tag: "a", Name: "LSUB", Args: &Lsub{Reference: "#news.", Pattern: "comp.%"}}},
		{"a STATUS blurdybloop (UIDNEXT MESSAGES size highestmodseq APPENDLIMIT DELETED RECENT UIDVALIDITY UNSEEN)\r\n",
			&Command{Tag: "a", Name: "STATUS", Args: &Status{Mailbox: "blurdybloop",
				Items: []string{"UIDNEXT", "MESSAGES", "SIZE", "HIGHESTMODSEQ", "APPENDLIMIT", "DELETED", "RECENT", "UIDVALIDITY", "UNSEEN"}}}},
		{"a APPEND saved {5}\r\nhello\r\n", &Command{Tag: "a", Name: "APPEND", Args: &Append{Mailbox: "saved", Message: []byte("hello")}}},
		{"a APPEND saved (\\Seen $Junk) ~{3+}\r\na\x00b\r\n", &Command{Tag: "a", Name: "APPEND",
			Args: &Append{Mailbox: "saved", Flags: []string{`\Seen`, "$Junk"}, Binary: true, Message: []byte("a\x00b")}}},
		{"a APPEND saved () {0}\r\n\r\n", &Command{Tag: "a", Name: "APPEND",
			Args: &Append{Mailbox: "saved", Flags: []string{}, Message: []byte{}}}},
		{"a COPY 2:4 MEETING\r\n", &Command{Tag: "a", Name: "COPY", Args: &Copy{Set: set(SeqRange{2, 4}), Mailbox: "MEETING"}}},
		{"a UID COPY 1:* x\r\n", &Command{Tag: "a", Name: "COPY", UID: true, Args: &Copy{Set: set(SeqRange{1, Star}), Mailbox: "x"}}},
		{"a UID MOVE $ Trash\r\n", &Command{Tag: "a", Name: "MOVE", UID: true, Args: &Move{Set: SeqSet{Saved: true}, Mailbox: "Trash"}}},
		{"a MOVE *:4 Trash\r\n", &Command{Tag: "a", Name: "MOVE", Args: &Move{Set: set(SeqRange{Star, 4}), Mailbox: "Trash"}}},
		{"a STORE 2:4 +FLAGS (\\Deleted)\r\n", &Command{Tag: "a", Name: "STORE", Args: &Store{
			Set: set(SeqRange{2, 4}), Op: StoreAdd, Flags: []string{`\Deleted`}}}},
		{"a UID STORE 1 -flags.silent \\Seen foo\r\n", &Command{Tag: "a", Name: "STORE", UID: true, Args: &Store{
			Set: set(one(1)), Op: StoreRemove, Silent: true, Flags: []string{`\Seen`, "foo"}}}},
		{"a STORE 7 (UNCHANGEDSINCE 0) FLAGS ()\r\n", &Command{Tag: "a", Name: "STORE", Args: &Store{
			Set: set(one(7)), Flags: []string{}, HasUnchangedSince: true}}},
		{"a STORE 1:5 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n", &Command{Tag: "a", Name: "STORE", Args: &Store{
			Set: set(SeqRange{1, 5}), Op: StoreAdd, Silent: true, Flags: []string{`\Deleted`},
			UnchangedSince: 320162338, HasUnchangedSince: true}}},
		{"a GETQUOTA \"\"\r\n", &Command{Tag: "a", Name: "GETQUOTA", Args: &GetQuota{}}},
		{"a GETQUOTAROOT INBOX\r\n", &Command{Tag: "a", Name: "GETQUOTAROOT", Args: &GetQuotaRoot{Mailbox: "INBOX"}}},
		{"a SETACL Work bob@example.com +lr\r\n", &Command{Tag: "a", Name: "SETACL", Args: &SetACL{Mailbox: "Work", Identifier: "bob@example.com", Rights: "+lr"}}},
		{"a SETACL inbox \"bob\" \"\"\r\n", &Command{Tag: "a", Name: "SETACL", Args: &SetACL{Mailbox: "INBOX", Identifier: "bob", Rights: ""}}},
		{"a DELETEACL Work bob\r\n", &Command{Tag: "a", Name: "DELETEACL", Args: &DeleteACL{Mailbox: "Work", Identifier: "bob"}}},
		{"a LISTRIGHTS Work {3}\r\nbob\r\n", &Command{Tag: "a", Name: "LISTRIGHTS", Args: &ListRights{Mailbox: "Work", Identifier: "bob"}}},
		{"a GETACL Work\r\n", &Command{Tag: "a", Name: "GETACL", Args: &GetACL{Mailbox: "Work"}}},
		{"a MYRIGHTS Work\r\n", &Command{Tag: "a", Name: "MYRIGHTS", Args: &MyRights{Mailbox: "Work"}}},
		{"a SETQUOTA \"\" (STORAGE 512)\r\n", &Command{Tag: "a", Name: "SETQUOTA", Args: &SetQuota{
			Limits: []QuotaLimit{{Resource: "STORAGE", Limit: 512}}}}},
		{"a COMPRESS deflate\r\n", &Command{Tag: "a", Name: "COMPRESS", Args: &Compress{Mechanism: "DEFLATE"}}},
		{"a SORT (REVERSE DATE SUBJECT) UTF-8 ALL\r\n", &Command{Tag: "a", Name: "SORT", Args: &Sort{
			Criteria: []SortCriterion{{Key: "DATE", Reverse: true}, {Key: "SUBJECT"}}, Charset: "UTF-8", Key: &SearchKey{Op: "ALL"}}}},
		{"a UID SORT (DISPLAYFROM ARRIVAL CC FROM SIZE TO DISPLAYTO) us-ascii SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
			&Command{Tag: "a", Name: "SORT", UID: true, Args: &Sort{
				Criteria: []SortCriterion{{Key: "DISPLAYFROM"}, {Key: "ARRIVAL"}, {Key: "CC"}, {Key: "FROM"}, {Key: "SIZE"}, {Key: "TO"}, {Key: "DISPLAYTO"}},
				Charset:  "US-ASCII",
				Key: &SearchKey{Op: "AND", Children: []*SearchKey{
					{Op: "SINCE", Date: time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)},
					{Op: "NOT", Children: []*SearchKey{{Op: "FROM", Text: "Smith"}}}}}}}},
		{"a THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000\r\n", &Command{Tag: "a", Name: "THREAD", Args: &Thread{
			Algorithm: "ORDEREDSUBJECT", Charset: "UTF-8", Key: &SearchKey{Op: "SINCE", Date: time.Date(2000, 3, 5, 0, 0, 0, 0, time.UTC)}}}},
		{"a UID THREAD references US-ASCII ALL\r\n", &Command{Tag: "a", Name: "THREAD", UID: true, Args: &Thread{
			Algorithm: "REFERENCES", Charset: "US-ASCII", Key: &SearchKey{Op: "ALL"}}}},
		{"a SEARCH RETURN (MIN COUNT SAVE) CHARSET UTF-8 UNSEEN\r\n", &Command{Tag: "a", Name: "SEARCH", Args: &Search{
			Charset: "UTF-8", ESearch: true, Return: []string{"MIN", "COUNT", "SAVE"}, Key: &SearchKey{Op: "UNSEEN"}}}},
		{"a SEARCH RETURN () ALL\r\n", &Command{Tag: "a", Name: "SEARCH", Args: &Search{
			ESearch: true, Return: []string{}, Key: &SearchKey{Op: "ALL"}}}},
		{"a UID SEARCH CHARSET UTF-8 SUBJECT {4}\r\nCaf\xc3\r\n", &Command{Tag: "a", Name: "SEARCH", UID: true, Args: &Search{
			Charset: "UTF-8", Key: &SearchKey{Op: "SUBJECT", Text: "Caf\xc3"}}}},
		{"a FETCH 1 ALL\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{Set: set(one(1)),
			Items: items(FetchFlags, FetchInternalDate, FetchRFC822Size, FetchEnvelope)}}},
		{"a FETCH 1 fast\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{Set: set(one(1)),
			Items: items(FetchFlags, FetchInternalDate, FetchRFC822Size)}}},
		{"a FETCH 1 FULL\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{Set: set(one(1)),
			Items: items(FetchFlags, FetchInternalDate, FetchRFC822Size, FetchEnvelope, FetchBody)}}},
		{"a FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{
			Set: set(SeqRange{2, 4}), Items: []FetchItem{{Att: FetchFlags},
				{Att: FetchBodySection, Section: &Section{Specifier: "HEADER.FIELDS", Fields: []string{"DATE", "FROM"}}}}}}},
		{"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n", &Command{Tag: "a", Name: "FETCH", UID: true, Args: &Fetch{
			Set: set(SeqRange{1, Star}), Items: items(FetchFlags), ChangedSince: 12345, Vanished: true}}},
		{"a FETCH 1:* FLAGS (CHANGEDSINCE 7)\r\n", &Command{Tag: "a", Name: "FETCH", Args: &Fetch{
			Set: set(SeqRange{1, Star}), Items: items(FetchFlags), ChangedSince: 7}}},
	}
	for _, tt := range tests {
		got, err := read(tt.in, false)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", tt.in, got.Args, tt.want.Args)
		}
	}
}

func TestParseAppendDate(t *testing.T) {
	cmd, err := read("A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {3}\r\nabc\r\n", false)
	if err != nil {
		t.Fatal(err)
	}
	a := cmd.Args.(*Append)
	want := time.Date(1994, 2, 8, 5, 52, 25, 0, time.UTC)
	if !a.Date.Equal(want) || FormatDateTime(a.Date) != "07-Feb-1994 21:52:25 -0800" {
		t.Errorf("date = %v, want %v", a.Date, want)
	}
	if string(a.Message) != "abc" || !reflect.DeepEqual(a.Flags, []string{`\Seen`}) {
		t.Errorf("got %+v", a)
	}
}

func TestParseUTF8Mailboxes(t *testing.T) {
	cmd, err := read("a SELECT \"Entwürfe\"\r\n", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := cmd.Args.(*Select).Mailbox; got != "Entwürfe" {
		t.Errorf("mailbox = %q", got)
	}
	// In UTF-8 mode "&" has no special meaning.
	cmd, err = read("a SELECT AT&T\r\n", true)
	if err != nil || cmd.Args.(*Select).Mailbox != "AT&T" {
		t.Errorf("got %v, %v", cmd, err)
	}
	if _, err := read("a SELECT \"\xff\"\r\n", true); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
}

func TestParseSearchKeys(t *testing.T) {
	date := time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want *SearchKey
	}{
		{"ALL", &SearchKey{Op: "ALL"}},
		{"answered", &SearchKey{Op: "ANSWERED"}},
		{"DELETED", &SearchKey{Op: "DELETED"}},
		{"DRAFT", &SearchKey{Op: "DRAFT"}},
		{"FLAGGED", &SearchKey{Op: "FLAGGED"}},
		{"NEW", &SearchKey{Op: "NEW"}},
		{"OLD", &SearchKey{Op: "OLD"}},
		{"RECENT", &SearchKey{Op: "RECENT"}},
		{"SEEN", &SearchKey{Op: "SEEN"}},
		{"UNANSWERED", &SearchKey{Op: "UNANSWERED"}},
		{"UNDELETED", &SearchKey{Op: "UNDELETED"}},
		{"UNDRAFT", &SearchKey{Op: "UNDRAFT"}},
		{"UNFLAGGED", &SearchKey{Op: "UNFLAGGED"}},
		{"UNSEEN", &SearchKey{Op: "UNSEEN"}},
		{"BCC bob", &SearchKey{Op: "BCC", Text: "bob"}},
		{"BODY \"a b\"", &SearchKey{Op: "BODY", Text: "a b"}},
		{"CC {3}\r\nx y", &SearchKey{Op: "CC", Text: "x y"}},
		{"FROM Smith", &SearchKey{Op: "FROM", Text: "Smith"}},
		{"SUBJECT \"\"", &SearchKey{Op: "SUBJECT", Text: ""}},
		{"TEXT foo", &SearchKey{Op: "TEXT", Text: "foo"}},
		{"TO bar", &SearchKey{Op: "TO", Text: "bar"}},
		{"KEYWORD $Junk", &SearchKey{Op: "KEYWORD", Text: "$Junk"}},
		{"UNKEYWORD $Forwarded", &SearchKey{Op: "UNKEYWORD", Text: "$Forwarded"}},
		{"HEADER Message-ID <x@y>", &SearchKey{Op: "HEADER", Field: "Message-ID", Text: "<x@y>"}},
		{"HEADER X-Spam \"\"", &SearchKey{Op: "HEADER", Field: "X-Spam", Text: ""}},
		{"BEFORE 1-Feb-1994", &SearchKey{Op: "BEFORE", Date: date}},
		{"ON \"01-feb-1994\"", &SearchKey{Op: "ON", Date: date}},
		{"SINCE 1-Feb-1994", &SearchKey{Op: "SINCE", Date: date}},
		{"SENTBEFORE 1-Feb-1994", &SearchKey{Op: "SENTBEFORE", Date: date}},
		{"SENTON 1-Feb-1994", &SearchKey{Op: "SENTON", Date: date}},
		{"SENTSINCE 1-Feb-1994", &SearchKey{Op: "SENTSINCE", Date: date}},
		{"LARGER 10000", &SearchKey{Op: "LARGER", Number: 10000}},
		{"SMALLER 5", &SearchKey{Op: "SMALLER", Number: 5}},
		{"UID 1:100,200", &SearchKey{Op: "UID", Set: set(SeqRange{1, 100}, one(200))}},
		{"UID $", &SearchKey{Op: "UID", Set: SeqSet{Saved: true}}},
		{"2:4,*", &SearchKey{Op: "SEQ", Set: set(SeqRange{2, 4}, one(Star))}},
		{"$", &SearchKey{Op: "SEQ", Set: SeqSet{Saved: true}}},
		{"NOT SEEN", &SearchKey{Op: "NOT", Children: []*SearchKey{{Op: "SEEN"}}}},
		{"OR SEEN FLAGGED", &SearchKey{Op: "OR", Children: []*SearchKey{{Op: "SEEN"}, {Op: "FLAGGED"}}}},
		{"OR (SEEN FLAGGED) NOT (DELETED)", &SearchKey{Op: "OR", Children: []*SearchKey{
			{Op: "AND", Children: []*SearchKey{{Op: "SEEN"}, {Op: "FLAGGED"}}},
			{Op: "NOT", Children: []*SearchKey{{Op: "DELETED"}}}}}},
		{"MODSEQ 620162338", &SearchKey{Op: "MODSEQ", Number: 620162338}},
		{"MODSEQ \"/flags/\\\\draft\" all 620162338", &SearchKey{Op: "MODSEQ", Number: 620162338,
			EntryName: `/flags/\draft`, EntryType: "all"}},
		{"DELETED FROM \"SMITH\" SINCE 1-Feb-1994", &SearchKey{Op: "AND", Children: []*SearchKey{
			{Op: "DELETED"}, {Op: "FROM", Text: "SMITH"}, {Op: "SINCE", Date: date}}}},
	}
	for _, tt := range tests {
		cmd, err := read("t SEARCH "+tt.in+"\r\n", false)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := cmd.Args.(*Search).Key; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseFetchItems(t *testing.T) {
	tests := []struct {
		in       string
		want     FetchItem
		response string
	}{
		{"FLAGS", FetchItem{Att: FetchFlags}, "FLAGS"},
		{"internaldate", FetchItem{Att: FetchInternalDate}, "INTERNALDATE"},
		{"RFC822.SIZE", FetchItem{Att: FetchRFC822Size}, "RFC822.SIZE"},
		{"ENVELOPE", FetchItem{Att: FetchEnvelope}, "ENVELOPE"},
		{"BODY", FetchItem{Att: FetchBody}, "BODY"},
		{"BODYSTRUCTURE", FetchItem{Att: FetchBodyStructure}, "BODYSTRUCTURE"},
		{"UID", FetchItem{Att: FetchUID}, "UID"},
		{"MODSEQ", FetchItem{Att: FetchModSeq}, "MODSEQ"},
		{"RFC822", FetchItem{Att: FetchRFC822}, "RFC822"},
		{"RFC822.HEADER", FetchItem{Att: FetchRFC822Header}, "RFC822.HEADER"},
		{"RFC822.TEXT", FetchItem{Att: FetchRFC822Text}, "RFC822.TEXT"},
		{"BODY[]", FetchItem{Att: FetchBodySection, Section: &Section{}}, "BODY[]"},
		{"BODY.PEEK[]", FetchItem{Att: FetchBodySection, Section: &Section{}, Peek: true}, "BODY[]"},
		{"body.peek[]<0.1024>", FetchItem{Att: FetchBodySection, Section: &Section{}, Peek: true,
			Partial: &Partial{0, 1024}}, "BODY[]<0>"},
		{"BODY[HEADER]", FetchItem{Att: FetchBodySection, Section: &Section{Specifier: "HEADER"}}, "BODY[HEADER]"},
		{"BODY[TEXT]<10.20>", FetchItem{Att: FetchBodySection, Section: &Section{Specifier: "TEXT"},
			Partial: &Partial{10, 20}}, "BODY[TEXT]<10>"},
		{"BODY[1]", FetchItem{Att: FetchBodySection, Section: &Section{Part: []int{1}}}, "BODY[1]"},
		{"BODY[4.2.2.1]", FetchItem{Att: FetchBodySection, Section: &Section{Part: []int{4, 2, 2, 1}}}, "BODY[4.2.2.1]"},
		{"BODY[1.MIME]", FetchItem{Att: FetchBodySection, Section: &Section{Part: []int{1}, Specifier: "MIME"}}, "BODY[1.MIME]"},
		{"BODY[3.HEADER]", FetchItem{Att: FetchBodySection, Section: &Section{Part: []int{3}, Specifier: "HEADER"}}, "BODY[3.HEADER]"},
		{"BODY[3.1.TEXT]", FetchItem{Att: FetchBodySection, Section: &Section{Part: []int{3, 1}, Specifier: "TEXT"}}, "BODY[3.1.TEXT]"},
		{"BODY.PEEK[HEADER.FIELDS (From \"X Y\" {2}\r\nab)]", FetchItem{Att: FetchBodySection, Peek: true,
			Section: &Section{Specifier: "HEADER.FIELDS", Fields: []string{"From", "X Y", "ab"}}},
			`BODY[HEADER.FIELDS (From "X Y" ab)]`},
		{"BODY[2.HEADER.FIELDS.NOT (SUBJECT)]", FetchItem{Att: FetchBodySection,
			Section: &Section{Part: []int{2}, Specifier: "HEADER.FIELDS.NOT", Fields: []string{"SUBJECT"}}},
			"BODY[2.HEADER.FIELDS.NOT (SUBJECT)]"},
		{"BINARY[]", FetchItem{Att: FetchBinary, Section: &Section{}}, "BINARY[]"},
		{"BINARY.PEEK[1.2]<0.100>", FetchItem{Att: FetchBinary, Peek: true, Section: &Section{Part: []int{1, 2}},
			Partial: &Partial{0, 100}}, "BINARY[1.2]<0>"},
		{"BINARY.SIZE[3]", FetchItem{Att: FetchBinarySize, Section: &Section{Part: []int{3}}}, "BINARY.SIZE[3]"},
	}
	for _, tt := range tests {
		cmd, err := read("t FETCH 1 ("+tt.in+")\r\n", false)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		items := cmd.Args.(*Fetch).Items
		if len(items) != 1 || !reflect.DeepEqual(items[0], tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.in, items, tt.want)
			continue
		}
		if got := items[0].ResponseName(); got != tt.response {
			t.Errorf("%q: response name %q, want %q", tt.in, got, tt.response)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, tag string
	}{
		{"\r\n", ""},
		{"+a NOOP\r\n", ""},
		{"a\r\n", "a"},
		{"a  NOOP\r\n", "a"},
		{"a FOO\r\n", "a"},
		{"a NOOP extra\r\n", "a"},
		{"a UID NOOP\r\n", "a"},
		{"a LOGIN alice\r\n", "a"},
		{"a LOGIN \"alice pw\r\n", "a"},
		{"a LOGIN \"a\\b\" x\r\n", "a"},
		{"a LOGIN alice {2}\r\npw extra\r\n", "a"},
		{"a AUTHENTICATE PLAIN !!!\r\n", "a"},
		{"a ENABLE\r\n", "a"},
		{"a ID (\"name\")\r\n", "a"},
		{"a ID foo\r\n", "a"},
		{"a SELECT\r\n", "a"},
		{"a SELECT INBOX ()\r\n", "a"},
		{"a SELECT INBOX (FOO)\r\n", "a"},
		{"a SELECT INBOX (QRESYNC (0 1))\r\n", "a"},
		{"a SELECT INBOX (QRESYNC (1 0))\r\n", "a"},
		{"a SELECT INBOX (QRESYNC (1 1 $))\r\n", "a"},
		{"a SELECT AT&T\r\n", "a"},
		{"a SELECT &AGE-\r\n", "a"},
		{"a SELECT \"caf\xc3\xa9\"\r\n", "a"},
		{"a CREATE x (USE (Drafts))\r\n", "a"},
		{"a CREATE x (FOO)\r\n", "a"},
		{"a RENAME x\r\n", "a"},
		{"a LIST (RECURSIVEMATCH) \"\" *\r\n", "a"},
		{"a LIST (BOGUS) \"\" *\r\n", "a"},
		{"a LIST \"\" * RETURN (BOGUS)\r\n", "a"},
		{"a LIST \"\" * FOO ()\r\n", "a"},
		{"a LIST \"\" ()\r\n", "a"},
		{"a STATUS x ()\r\n", "a"},
		{"a STATUS x (FOO)\r\n", "a"},
		{"a APPEND x \"hello\"\r\n", "a"},
		{"a APPEND x (\\Seen)\r\n", "a"},
		{"a APPEND x \"32-Feb-1994 21:52:25 -0800\" {1}\r\nx\r\n", "a"},
		{"a APPEND x \"07-Feb-1994 25:52:25 -0800\" {1}\r\nx\r\n", "a"},
		{"a APPEND x \"07-Foo-1994 21:52:25 -0800\" {1}\r\nx\r\n", "a"},
		{"a APPEND x {1}\r\nx extra\r\n", "a"},
		{"a COPY 0 x\r\n", "a"},
		{"a COPY 1: x\r\n", "a"},
		{"a COPY 4294967296 x\r\n", "a"},
		{"a COPY 1,,2 x\r\n", "a"},
		{"a UID EXPUNGE\r\n", "a"},
		{"a STORE 1 FLAGS\r\n", "a"},
		{"a STORE 1 XFLAGS (\\Seen)\r\n", "a"},
		{"a STORE 1 (UNCHANGEDSINCE) FLAGS ()\r\n", "a"},
		{"a STORE 1 (FOO 1) FLAGS ()\r\n", "a"},
		{"a SEARCH\r\n", "a"},
		{"a SEARCH FOO\r\n", "a"},
		{"a SEARCH NOT\r\n", "a"},
		{"a SEARCH OR SEEN\r\n", "a"},
		{"a SEARCH ()\r\n", "a"},
		{"a SEARCH (SEEN\r\n", "a"},
		{"a SEARCH BEFORE 1-Feb-94\r\n", "a"},
		{"a SEARCH BEFORE 30-Feb-1994\r\n", "a"},
		{"a SEARCH LARGER x\r\n", "a"},
		{"a SEARCH LARGER 99999999999999999999\r\n", "a"},
		{"a SEARCH HEADER X\r\n", "a"},
		{"a SEARCH KEYWORD \"x\"\r\n", "a"},
		{"a SEARCH MODSEQ \"/flags/x\" bogus 1\r\n", "a"},
		{"a SEARCH RETURN (FOO) ALL\r\n", "a"},
		{"a SEARCH CHARSET\r\n", "a"},
		{"a SEARCH UID\r\n", "a"},
		{"a SEARCH {3}\r\nALL\r\n", "a"},
		{"a SEARCH " + strings.Repeat("NOT ", 100) + "ALL\r\n", "a"},
		{"a SEARCH " + strings.Repeat("(", 100) + "ALL" + strings.Repeat(")", 100) + "\r\n", "a"},
		{"a SORT () UTF-8 ALL\r\n", "a"},
		{"a SORT (REVERSE) UTF-8 ALL\r\n", "a"},
		{"a SORT (DATE) ALL\r\n", "a"},
		{"a SORT (FOO) UTF-8 ALL\r\n", "a"},
		{"a THREAD REFERENCES\r\n", "a"},
		{"a FETCH 1\r\n", "a"},
		{"a FETCH 1 ()\r\n", "a"},
		{"a FETCH 1 FOO\r\n", "a"},
		{"a FETCH 1 (FLAGS\r\n", "a"},
		{"a FETCH 1 BODY[\r\n", "a"},
		{"a FETCH 1 BODY[FOO]\r\n", "a"},
		{"a FETCH 1 BODY[MIME]\r\n", "a"},
		{"a FETCH 1 BODY[0]\r\n", "a"},
		{"a FETCH 1 BODY[1.]\r\n", "a"},
		{"a FETCH 1 BODY[HEADER.FIELDS]\r\n", "a"},
		{"a FETCH 1 BODY[HEADER.FIELDS ()]\r\n", "a"},
		{"a FETCH 1 BODY[]<0>\r\n", "a"},
		{"a FETCH 1 BODY[]<0.0>\r\n", "a"},
		{"a FETCH 1 BINARY[TEXT]\r\n", "a"},
		{"a FETCH 1 BINARY.SIZE\r\n", "a"},
		{"a FETCH 1 FLAGS (VANISHED)\r\n", "a"},
		{"a UID FETCH 1 FLAGS (VANISHED)\r\n", "a"},
		{"a FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)\r\n", "a"},
		{"a FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n", "a"},
		{"a FETCH 1 FLAGS (FOO)\r\n", "a"},
		{"a GETQUOTA\r\n", "a"},
		{"a SETQUOTA x (STORAGE)\r\n", "a"},
		{"a COMPRESS\r\n", "a"},
		{"a LOGIN ~{1}\r\nx y\r\n", "a"},
	}
	for _, tt := range tests {
		cmd, err := read(tt.in, false)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: got %+v, %v; want SyntaxError", tt.in, cmd, err)
			continue
		}
		if se.Tag != tt.tag || se.Message == "" {
			t.Errorf("%q: tag %q message %q, want tag %q", tt.in, se.Tag, se.Message, tt.tag)
		}
	}
}

func TestSeqSet(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want SeqSet
		str  string
	}{
		{"1", set(one(1)), "1"},
		{"1:*", set(SeqRange{1, Star}), "1:*"},
		{"3,5:7", set(one(3), SeqRange{5, 7}), "3,5:7"},
		{"*", set(one(Star)), "*"},
		{"$", SeqSet{Saved: true}, "$"},
	} {
		got, err := ParseSeqSet(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) || got.String() != tt.str {
			t.Errorf("%q: got %+v %q, %v", tt.in, got, got.String(), err)
		}
	}
	for _, bad := range []string{"", "0", "1:", ",1", "1,", "$,1", "a", "1:0"} {
		if _, err := ParseSeqSet(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	s, _ := ParseSeqSet("7:5,10:*")
	for _, tt := range []struct {
		n    uint32
		want bool
	}{{4, false}, {5, true}, {7, true}, {8, false}, {12, true}, {20, true}, {21, false}} {
		if got := s.Contains(tt.n, 20); got != tt.want {
			t.Errorf("Contains(%d) = %v", tt.n, got)
		}
	}
	if !s.Dynamic() || set(one(1)).Dynamic() {
		t.Error("Dynamic wrong")
	}
	if got := SeqSetOf([]uint32{5, 1, 3, 2, 3, 0, 9, 10, 11}).String(); got != "1:3,5,9:11" {
		t.Errorf("SeqSetOf = %q", got)
	}
}
