// Package imapwire is the IMAP4rev2/IMAP4rev1 wire codec: it reads client commands,
// literals included, into typed values and writes correctly encoded server responses.
// It must never know about mailboxes, messages in the store or session state beyond the
// few encoding switches a caller sets (UTF-8 mailbox names, APPENDLIMIT), and it must
// never panic, hang or grow memory without bound on hostile input.
//
// Reading: a Reader reads one whole command at a time (RFC 9051 section 2.2.1),
// including synchronising literals, for which it calls back so the caller can send the
// "+" continuation request (RFC 9051 section 7.5), non-synchronising literals (RFC 7888)
// and literal8 (RFC 3516). Limits on line, literal and command size produce a
// *LimitError that says whether the connection can continue; malformed commands produce
// a *SyntaxError carrying the tag for the "tag BAD" answer.
//
// Writing: a Writer buffers responses — status responses with response codes,
// continuation requests, untagged data, strings chosen as atom, quoted string or
// literal — and writes ENVELOPE and BODYSTRUCTURE from the parsed messages of package
// mailroom/internal/mime (RFC 3501 section 7.4.2, RFC 9051 section 7.5.2).
//
// Specifications followed: RFC 9051 and RFC 3501 (base protocol, formal syntax),
// RFC 7888 (LITERAL+/LITERAL-), RFC 3516 (BINARY), RFC 7162 (CONDSTORE, QRESYNC),
// RFC 5161 (ENABLE), RFC 6154 (SPECIAL-USE), RFC 5258 and RFC 5819 (LIST-EXTENDED,
// LIST-STATUS), RFC 4731 (ESEARCH), RFC 5182 (SEARCHRES), RFC 4959 (SASL-IR), RFC 2971
// (ID), RFC 3691 (UNSELECT), RFC 7889 (APPENDLIMIT), RFC 8438 (STATUS=SIZE), RFC 9208
// (QUOTA), RFC 5256 (SORT, THREAD), RFC 5957 (SORT=DISPLAY), RFC 4978 (COMPRESS),
// RFC 2177 (IDLE), RFC 2342 (NAMESPACE), RFC 4315 (UIDPLUS), RFC 6851 (MOVE).
package imapwire
