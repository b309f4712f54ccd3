package mime

import (
	"errors"
	"maps"
	"reflect"
	"testing"
)

func TestDecodeHeader(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Hello world", "Hello world"},
		{"utf8 B", "=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße"},
		{"latin1 Q", "=?ISO-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème"},
		{"lower-case hex and encoding", "=?iso-8859-1?q?caf=e9?=", "café"},
		{"text around", "Re: =?utf-8?q?=C3=A9t=C3=A9?= plans", "Re: été plans"},
		// RFC 2047 section 6.2: whitespace between adjacent encoded-words goes away.
		{"adjacent", "=?utf-8?q?a?= \t =?utf-8?q?b?=", "ab"},
		{"space inside word kept via underscore", "=?utf-8?q?a_b?=", "a b"},
		{"utf-8 split across words", "=?utf-8?q?Gr=C3?= =?utf-8?q?=BC=C3=9Fe?=", "Grüße"},
		{"different charsets adjacent", "=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?=", "éé"},
		{"RFC 2231 language suffix", "=?utf-8*fr?q?=C3=A9?=", "é"},
		{"glued to text", "foo=?utf-8?q?bar?=baz", "foobarbaz"},
		{"spaces inside encoded text", "=?utf-8?q?hello world?=", "hello world"},
		{"unknown charset, valid utf-8", "=?x-made-up?q?=C3=A9?=", "é"},
		{"unknown charset, 8-bit", "=?x-made-up?q?=E9?=", "é"},
		{"windows-1252 quotes", "=?windows-1252?q?=93hi=94?=", "\u201chi\u201d"},
		{"shift_jis", "=?shift_jis?B?k/qWe4zq?=", "日本語"},
		{"bad base64 padding", "=?utf-8?b?w6k?=", "é"},
		{"not an encoded word", "=?utf-8?x?abc?=", "=?utf-8?x?abc?="},
		{"unterminated", "=?utf-8?q?abc", "=?utf-8?q?abc"},
		{"lone marker", "a =? b ?= c", "a =? b ?= c"},
		{"raw 8-bit latin-1", "Caf\xe9", "Café"},
		{"raw utf-8 (RFC 6532)", "Café", "Café"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecodeHeader(tc.in); got != tc.want {
				t.Errorf("DecodeHeader(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []Address
	}{
		{"", nil},
		{"a@example.com", []Address{{"", "a", "example.com"}}},
		{"A B <a@example.com>", []Address{{"A B", "a", "example.com"}}},
		{`"Last, First" <a@example.com>, b@example.org`,
			[]Address{{"Last, First", "a", "example.com"}, {"", "b", "example.org"}}},
		{`"quote \" inside" <a@x.org>`, []Address{{`quote " inside`, "a", "x.org"}}},
		{"=?utf-8?q?J=C3=B6rg?= <j@x.de>", []Address{{"=?utf-8?q?J=C3=B6rg?=", "j", "x.de"}}},
		{"a@example.com (Comment Name)", []Address{{"Comment Name", "a", "example.com"}}},
		{"Name <a@example.com> (ignored comment)", []Address{{"Name", "a", "example.com"}}},
		{"John Q. Public <jqp@example.com>", []Address{{"John Q. Public", "jqp", "example.com"}}},
		{`"john doe"@example.com`, []Address{{"", `"john doe"`, "example.com"}}},
		{"<@a.example,@b.example:c@d.example>", []Address{{"", "c", "d.example"}}},
		{"user@[192.0.2.1]", []Address{{"", "user", "[192.0.2.1]"}}},
		{"john . doe @ example . com", []Address{{"", "john.doe", "example.com"}}},
		{"<>", nil},
		{"Name <>", nil},
		{"localonly", []Address{{"", "localonly", MissingHost}}},
		{"user@", []Address{{"", "user", MissingHost}}},
		{"@example.com", []Address{{"", MissingMailbox, "example.com"}}},
		{"Just A Name", []Address{{"Just A Name", MissingMailbox, MissingHost}}},
		{"a@x.org,,, ,b@y.org", []Address{{"", "a", "x.org"}, {"", "b", "y.org"}}},
		{"Name <a@example.com", []Address{{"Name", "a", "example.com"}}},
		{`"unterminated <a@example.com>`, []Address{{"unterminated <a@example.com>", MissingMailbox, MissingHost}}},
		// RFC 3501 section 7.4.2 group syntax.
		{"Team: a@x.org, B <b@y.org>;", []Address{
			{"", "Team", ""}, {"", "a", "x.org"}, {"B", "b", "y.org"}, {}}},
		{"undisclosed-recipients:;", []Address{{"", "undisclosed-recipients", ""}, {}}},
		{"Team: a@x.org", []Address{{"", "Team", ""}, {"", "a", "x.org"}, {}}}, // closed at the end
		{`"": a@x.org;`, []Address{{"", MissingMailbox, ""}, {"", "a", "x.org"}, {}}},
		{":;", nil},
	}
	for _, tc := range tests {
		if got := parseAddressList(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseAddressList(%q) =\n%+v\nwant\n%+v", tc.in, got, tc.want)
		}
	}
}

func TestAddressGroupMarkers(t *testing.T) {
	list := parseAddressList("G: a@x.org;")
	if !list[0].IsGroupStart() || list[0].IsGroupEnd() || list[1].IsGroupStart() || !list[2].IsGroupEnd() {
		t.Errorf("group markers misread: %+v", list)
	}
}

func TestParseParamHeader(t *testing.T) {
	tests := []struct {
		in        string
		value     string
		params    map[string]string
		mediaType string
	}{
		{in: "text/plain", value: "text/plain"},
		{in: "Text/HTML; Charset=\"UTF-8\"", value: "text/html", params: map[string]string{"charset": "UTF-8"}},
		{in: "text/plain; charset=us-ascii (Plain text)", value: "text/plain",
			params: map[string]string{"charset": "us-ascii"}},
		{in: "text / plain ; charset = utf-8", value: "text/plain", params: map[string]string{"charset": "utf-8"}},
		{in: `attachment; filename="a \"b\".txt"`, value: "attachment", params: map[string]string{"filename": `a "b".txt`}},
		{in: "attachment; filename=my file.txt; size=10", value: "attachment",
			params: map[string]string{"filename": "my file.txt", "size": "10"}},
		{in: "attachment; junk; filename=x", value: "attachment", params: map[string]string{"filename": "x"}},
		{in: `attachment; filename="unterminated`, value: "attachment", params: map[string]string{"filename": "unterminated"}},
		{in: "a/b; x=1; x=2", value: "a/b", params: map[string]string{"x": "1"}},
		{in: "attachment; filename=\"=?utf-8?q?caf=C3=A9?=\"", value: "attachment",
			params: map[string]string{"filename": "=?utf-8?q?caf=C3=A9?="}},
		// RFC 2231 sections 3 and 4.
		{in: "attachment; filename*=UTF-8'en'caf%C3%A9.txt", value: "attachment",
			params: map[string]string{"filename": "café.txt"}},
		{in: "attachment; filename*=iso-8859-1''caf%E9", value: "attachment",
			params: map[string]string{"filename": "café"}},
		{in: "attachment; filename=fallback.txt; filename*=utf-8''real.txt", value: "attachment",
			params: map[string]string{"filename": "real.txt"}},
		{in: "message/external-body; URL*1=\"/b\"; url*0=\"http://x\"", value: "message/external-body",
			params: map[string]string{"url": "http://x/b"}},
		{in: "a/b; t*0*=utf-8''%C3; t*1*=%A9", value: "a/b", params: map[string]string{"t": "é"}},
		{in: "a/b; t*0=one; t*5=two", value: "a/b", params: map[string]string{"t": "onetwo"}},
		{in: "a/b; t*=no-quotes%21", value: "a/b", params: map[string]string{"t": "no-quotes!"}},
		{in: "a/b; t*x=1", value: "a/b", params: map[string]string{"t*x": "1"}},
		{in: "", value: ""},
	}
	for _, tc := range tests {
		value, params := parseParamHeader(tc.in)
		if value != tc.value || !maps.Equal(params, tc.params) || (params == nil) != (tc.params == nil) {
			t.Errorf("parseParamHeader(%q) = %q, %v; want %q, %v", tc.in, value, params, tc.value, tc.params)
		}
	}
}

func TestParseMessageIDs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"<a@x>", []string{"<a@x>"}},
		{"<a@x> <b@y>\t<c@z>", []string{"<a@x>", "<b@y>", "<c@z>"}},
		{"<a@x>(comment)<b@y>", []string{"<a@x>", "<b@y>"}},
		{"<a @ x>", []string{"<a@x>"}},
		{"phrase <a@x> more", []string{"<a@x>"}},
		{"<a@x <b@y>", []string{"<a@x>", "<b@y>"}},
		{"<>", nil},
		{"a@x b@y", []string{"<a@x>", "<b@y>"}},
		{"a@x,b@y", []string{"<a@x>", "<b@y>"}},
	}
	for _, tc := range tests {
		if got := ParseMessageIDs(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseMessageIDs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecodedBody(t *testing.T) {
	tests := []struct {
		name, encoding, body, want string
		err                        error
	}{
		{"7bit", "7bit", "as is\r\n", "as is\r\n", nil},
		{"binary", "binary", "\x00\xff", "\x00\xff", nil},
		{"base64", "base64", "aGVs\r\nbG8=\r\n", "hello", nil},
		{"base64 junk ignored", "base64", "aG!V*s bG\t8", "hello", nil},
		{"base64 no padding", "base64", "aGVsbG8", "hello", nil},
		{"base64 concatenated chunks", "base64", "aGk=aGk=", "hihi", nil},
		{"base64 lone trailing char", "base64", "aGVsbG8hx", "hello!", nil},
		{"qp", "quoted-printable", "caf=C3=A9 =\r\nsoft\r\nhard", "café soft\r\nhard", nil},
		{"qp lower-case hex", "quoted-printable", "=c3=a9", "é", nil},
		{"qp trailing space dropped", "quoted-printable", "a  \r\nb\t\n", "a\r\nb\n", nil},
		{"qp soft break with padding", "quoted-printable", "a= \r\nb", "ab", nil},
		{"qp bad escape kept", "quoted-printable", "100% =ZZ =4", "100% =ZZ =4", nil},
		{"unknown", "x-uuencode", "begin 644 x", "", ErrUnknownEncoding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte("H: v\r\n\r\n" + tc.body)
			p := Part{Encoding: tc.encoding, BodyStart: 8, End: int64(len(raw))}
			got, err := p.DecodedBody(raw)
			if !errors.Is(err, tc.err) || string(got) != tc.want {
				t.Errorf("DecodedBody = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
	p := Part{BodyStart: 5, End: 50}
	if _, err := p.DecodedBody([]byte("short")); !errors.Is(err, ErrOutOfRange) {
		t.Errorf("DecodedBody with wrong raw: err = %v, want ErrOutOfRange", err)
	}
}

func TestHTMLToText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<p>One</p><p>Two</p>", "One\nTwo"},
		{"a<br>b<br/>c", "a\nb\nc"},
		{"<b>F</b>riday and <i>Friday</i>.", "Friday and Friday."},
		{"<td>cell</td><td>cell</td>", "cell cell"},
		{"x<script>var a = '<p>no</p>';</script>y", "x y"},
		{"x<STYLE type=text/css>p{}</STYLE>y", "x y"},
		{"x<script>never closed", "x"},
		{"a<!-- hidden -->b", "ab"},
		{"a<!-- never closed", "a"},
		{`<a href="x>y" title='>'>link</a>`, "link"},
		{"1 < 2 &amp;&amp; 3 &gt; 2 &eacute;&#233;&#xE9;", "1 < 2 && 3 > 2 ééé"},
		{"  lots \n\t of   space  ", "lots of space"},
		{"<!DOCTYPE html><html><head><title>T</title></head><body>B</body></html>", "T\nB"},
		{"unterminated <div class=", "unterminated"},
		{"a&nbsp;b", "a b"},
		{"<img alt=don't>text<p>more's</p>", "text\nmore's"},
		{`<a title = "x>y">z</a>`, "z"},
	}
	for _, tc := range tests {
		if got := htmlToText(tc.in); got != tc.want {
			t.Errorf("htmlToText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
