package wbxml

import (
	"errors"
	"fmt"
)

// Categories of errors. Every error returned by this package wraps exactly
// one of them, so callers can use errors.Is; decoding errors are *DecodeError,
// encoding errors *EncodeError and XML errors *XMLError.
var (
	ErrHeader        = errors.New("unsupported WBXML header")
	ErrTruncated     = errors.New("truncated input")
	ErrUnknownPage   = errors.New("unknown code page")
	ErrUnknownTag    = errors.New("unknown tag")
	ErrUnexpectedEnd = errors.New("END without open element")
	ErrTooDeep       = errors.New("elements nested too deeply")
	ErrIntOverflow   = errors.New("mb_u_int32 too long")
	ErrLength        = errors.New("length exceeds remaining input")
	ErrAttributes    = errors.New("attributes are not used by ActiveSync")
	ErrUnsupported   = errors.New("token not used by ActiveSync")
	ErrMixedContent  = errors.New("element mixes text, opaque data and children")
	ErrStringTable   = errors.New("bad string table reference")
	ErrTooLarge      = errors.New("string table references expand beyond the input size")
	ErrTrailingData  = errors.New("data after the root element")
	ErrNoRoot        = errors.New("no root element")
	ErrUnknownSpace  = errors.New("unknown namespace")
	ErrLegacyTag     = errors.New("legacy tag is decoded but never emitted")
	ErrNUL           = errors.New("text contains NUL, which STR_I cannot carry")
	ErrInvalidTree   = errors.New("invalid element tree")
	ErrXMLSyntax     = errors.New("malformed XML")
)

// MaxDepth is the deepest element nesting Decode, Encode and ParseXML accept.
// The deepest real ActiveSync document (a Sync response carrying a calendar
// exception's attendees) is about ten levels; the bound keeps hostile input
// from building unbounded stacks.
const MaxDepth = 64

// DecodeError reports where in the WBXML input decoding stopped.
type DecodeError struct {
	Offset int   // byte offset of the offending token in the input
	Err    error // wraps one of the Err* categories
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("wbxml: decode at offset %d: %v", e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError reports which element of the tree could not be encoded.
type EncodeError struct {
	Path string // slash-separated Space:Name path from the root
	Err  error  // wraps one of the Err* categories
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("wbxml: encode %s: %v", e.Path, e.Err)
}

func (e *EncodeError) Unwrap() error { return e.Err }

// XMLError reports a problem in the XML form given to ParseXML.
type XMLError struct {
	Line int   // 1-based line of the XML input; 0 when unknown
	Err  error // wraps one of the Err* categories
}

func (e *XMLError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("wbxml: XML line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("wbxml: XML: %v", e.Err)
}

func (e *XMLError) Unwrap() error { return e.Err }
