package imapwire

import (
	"bufio"
	"bytes"
	"errors"
	"testing"
)

// FuzzReadCommand feeds arbitrary input to a Reader with small limits: reading and
// parsing must never panic, must make progress (every call consumes input, so the loop
// ends) and must keep within the limits.
func FuzzReadCommand(f *testing.F) {
	for _, seed := range []string{
		"a LOGIN {5}\r\nalice {6+}\r\nsecret\r\n",
		"a APPEND x (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" ~{3+}\r\na\x00b\r\n",
		"a UID FETCH 1:*,$ (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (A B)]<0.10> BINARY.SIZE[1]) (CHANGEDSINCE 1 VANISHED)\r\n",
		"a SEARCH RETURN (MIN SAVE) CHARSET UTF-8 OR (NOT SEEN UID $) HEADER X {1}\r\ny MODSEQ \"/flags/\\\\seen\" all 5\r\n",
		"a SELECT INBOX (QRESYNC (1 2 3:4 (1 2)) CONDSTORE)\r\n",
		"a SETACL Work bob -lr\r\na DELETEACL Work {3+}\r\nbob\r\na MYRIGHTS Work\r\n",
		"a LIST (SUBSCRIBED) \"\" (a% \"b*\") RETURN (STATUS (MESSAGES))\r\n",
		"a STORE 1 (UNCHANGEDSINCE 3) +FLAGS.SILENT \\Seen\r\n",
		"a SORT (REVERSE DATE) UTF-8 SINCE 1-Jan-2000\r\na THREAD REFERENCES UTF-8 ALL\r\n",
		"a CREATE &AOQ- (USE (\\Drafts))\r\na ID (\"x\" NIL)\r\na AUTHENTICATE PLAIN =\r\n",
		"a LOGIN {999999}\r\nb LOGIN {100+}\r\n" + string(bytes.Repeat([]byte("x"), 100)) + "\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bufio.NewReaderSize(bytes.NewReader(data), 64), Options{
			MaxLine: 256, MaxLiteral: 512, MaxAppendLiteral: 1024, MaxCommand: 2048, MaxDiscard: 4096,
			Continue: func(li LiteralInfo) error {
				if li.Size > 1024 {
					t.Fatalf("continuation for a literal over the limit: %+v", li)
				}
				return nil
			},
		})
		for i := 0; i <= len(data); i++ {
			cmd, err := r.ReadCommand()
			var se *SyntaxError
			var le *LimitError
			switch {
			case err == nil:
				if cmd.Tag == "" || cmd.Name == "" || cmd.Name != upper(cmd.Name) {
					t.Fatalf("bad command %+v", cmd)
				}
			case errors.As(err, &se):
			case errors.As(err, &le):
				if !le.Recoverable {
					return
				}
			default:
				return
			}
		}
		t.Fatalf("ReadCommand did not reach the end of %d bytes", len(data))
	})
}

// FuzzMUTF7 checks that decoding never panics and that what decodes re-encodes to the
// same name (only canonical input is accepted).
func FuzzMUTF7(f *testing.F) {
	for _, s := range []string{"INBOX", "Entw&APw-rfe", "&U,BTFw-/&ZeVnLIqe-", "&-", "&2D3eAA-", "&AGE-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := DecodeMUTF7(s)
		if err != nil {
			return
		}
		if e := EncodeMUTF7(d); e != s {
			t.Fatalf("%q decodes to %q which encodes to %q", s, d, e)
		}
	})
}
