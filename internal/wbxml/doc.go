// Package wbxml converts Exchange ActiveSync WBXML bodies to and from a small
// element tree, using the ActiveSync code pages of [MS-ASWBXML]; it must never
// know anything of ActiveSync commands (what a Sync or a Ping means is the
// business of internal/activesync) and never emit a tag the current protocol
// does not define.
//
// Decode accepts the WBXML 1.3 subset ActiveSync clients send (WAP-192-WBXML,
// sections 5.3–5.8): tags without attributes, inline strings (STR_I), string
// table references (STR_T), character entities (ENTITY) and OPAQUE data.
// Hostile input is bounded: nesting is limited to MaxDepth, every length is
// checked against the bytes that remain, and string table references cannot
// expand the document beyond the size of its input. Legacy AS 2.5 tags and the
// obsolete AirNotify page (code page 3) are decoded but Encode refuses them.
//
// Encode writes the header ActiveSync uses (version 1.3, public id 1, UTF-8,
// empty string table, as in the encoding example of [MS-ASWBXML]) followed by tags, STR_I and OPAQUE.
//
// XML and ParseXML give the XML form of [MS-ASCMD] examples and of libwbxml's
// wbxml2xml/xml2wbxml tools, for test fixtures and debug logs.
package wbxml
