package imapwire

import (
	"strconv"
	"strings"
)

// ResponseCode is a response code of a status response (RFC 9051 section 7.1): Name,
// and Args already in wire form (empty when the code has none). The constructors below
// build the codes the extensions define, with correct encoding.
type ResponseCode struct {
	Name string
	Args string
}

// String returns the code as written between brackets.
func (c *ResponseCode) String() string {
	if c.Args == "" {
		return c.Name
	}
	return c.Name + " " + c.Args
}

// Code returns a code without arguments, such as ALERT, TRYCREATE, READ-ONLY,
// READ-WRITE, CLOSED, NOMODSEQ, TOOBIG, OVERQUOTA, NONEXISTENT, ALREADYEXISTS,
// AUTHENTICATIONFAILED, UNAVAILABLE, EXPUNGEISSUED, CANNOT, LIMIT, SERVERBUG.
func Code(name string) *ResponseCode { return &ResponseCode{Name: name} }

func numCode(name string, n uint64) *ResponseCode {
	return &ResponseCode{Name: name, Args: strconv.FormatUint(n, 10)}
}

// CodeUIDValidity is [UIDVALIDITY n] (RFC 9051 section 7.1).
func CodeUIDValidity(n uint32) *ResponseCode { return numCode("UIDVALIDITY", uint64(n)) }

// CodeUIDNext is [UIDNEXT n] (RFC 9051 section 7.1).
func CodeUIDNext(n uint32) *ResponseCode { return numCode("UIDNEXT", uint64(n)) }

// CodeUnseen is [UNSEEN n], the first unseen message (RFC 3501 section 7.1).
func CodeUnseen(n uint32) *ResponseCode { return numCode("UNSEEN", uint64(n)) }

// CodeHighestModSeq is [HIGHESTMODSEQ n] (RFC 7162 section 3.1.2.1).
func CodeHighestModSeq(n uint64) *ResponseCode { return numCode("HIGHESTMODSEQ", n) }

// CodeModified is [MODIFIED set] (RFC 7162 section 3.1.3).
func CodeModified(set SeqSet) *ResponseCode {
	return &ResponseCode{Name: "MODIFIED", Args: set.String()}
}

// CodeAppendUID is [APPENDUID uidvalidity uid-set] (RFC 4315 section 3): one UID, or a
// set for MULTIAPPEND.
func CodeAppendUID(uidValidity uint32, uids SeqSet) *ResponseCode {
	return &ResponseCode{Name: "APPENDUID", Args: strconv.FormatUint(uint64(uidValidity), 10) + " " + uids.String()}
}

// CodeCopyUID is [COPYUID uidvalidity source-uids dest-uids] (RFC 4315 section 3),
// also used by MOVE (RFC 6851 section 4.3).
func CodeCopyUID(uidValidity uint32, src, dst SeqSet) *ResponseCode {
	return &ResponseCode{Name: "COPYUID", Args: strconv.FormatUint(uint64(uidValidity), 10) + " " + src.String() + " " + dst.String()}
}

// CodeCapability is [CAPABILITY cap ...] (RFC 9051 section 7.1).
func CodeCapability(caps []string) *ResponseCode {
	return &ResponseCode{Name: "CAPABILITY", Args: strings.Join(caps, " ")}
}

// CodePermanentFlags is [PERMANENTFLAGS (flag ...)], "\*" included by the caller when
// new keywords can be created (RFC 9051 section 7.1).
func CodePermanentFlags(flags []string) *ResponseCode {
	return &ResponseCode{Name: "PERMANENTFLAGS", Args: "(" + strings.Join(flags, " ") + ")"}
}

// CodeBadCharset is [BADCHARSET (charset ...)] (RFC 9051 section 7.1).
func CodeBadCharset(charsets []string) *ResponseCode {
	c := &ResponseCode{Name: "BADCHARSET"}
	if len(charsets) > 0 {
		quoted := make([]string, len(charsets))
		for i, cs := range charsets {
			quoted[i] = astringText(cs)
		}
		c.Args = "(" + strings.Join(quoted, " ") + ")"
	}
	return c
}
