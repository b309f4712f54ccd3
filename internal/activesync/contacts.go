package activesync

// The Contacts class ([MS-ASCNTC] 2.2.2, and NickName of contacts2, 2.2.2.53) against
// vCard 3.0/4.0 (RFC 2426, RFC 6350) as pim keeps it. ActiveSync has fixed slots (three
// e-mail addresses, two home and two business phones, one mobile …); a vCard's values
// fill the slots their TYPE names, in order, and what has no slot stays in the vCard,
// untouched by a device's Change.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-vcard"

	"mailroom/internal/wbxml"
)

// maxPicture bounds a contact picture a device receives or sends ([MS-ASCNTC]
// 2.2.2.56 leaves the limit to the server; Exchange's is 48 KiB of base64).
const maxPicture = 48 << 10

// phoneSlots are the Contacts phone elements and the vCard TEL types that fill them.
var phoneSlots = []struct {
	elem  string
	types []string // all must be present
}{
	{"MobilePhoneNumber", []string{vcard.TypeCell}},
	{"BusinessFaxNumber", []string{vcard.TypeFax, vcard.TypeWork}},
	{"HomeFaxNumber", []string{vcard.TypeFax, vcard.TypeHome}},
	{"BusinessFaxNumber", []string{vcard.TypeFax}},
	{"PagerNumber", []string{vcard.TypePager}},
	{"CarPhoneNumber", []string{"car"}},
	{"BusinessPhoneNumber", []string{vcard.TypeWork}},
	{"Business2PhoneNumber", []string{vcard.TypeWork}},
	{"HomePhoneNumber", []string{vcard.TypeHome}},
	{"Home2PhoneNumber", []string{vcard.TypeHome}},
	{"HomePhoneNumber", nil},
	{"Home2PhoneNumber", nil},
	{"BusinessPhoneNumber", nil},
	{"Business2PhoneNumber", nil},
}

// addressSlots are the three postal addresses and the TYPE each comes from.
var addressSlots = []struct{ prefix, typ string }{
	{"Business", vcard.TypeWork}, {"Home", vcard.TypeHome}, {"Other", ""},
}

// contactFields are the vCard properties the Contacts class maps.
var contactFields = []string{
	vcard.FieldName, vcard.FieldFormattedName, vcard.FieldEmail, vcard.FieldTelephone, vcard.FieldAddress,
	vcard.FieldOrganization, vcard.FieldTitle, vcard.FieldBirthday, vcard.FieldAnniversary, "X-ANNIVERSARY",
	vcard.FieldNote, vcard.FieldURL, vcard.FieldNickname, vcard.FieldCategories, vcard.FieldPhoto, vcard.FieldRevision,
}

// renderContact writes a vCard as Contacts class ApplicationData.
func renderContact(app *wbxml.Element, card vcard.Card, opts itemOptions) {
	ns := wbxml.NSContacts
	put := func(name, v string) {
		if v = strings.TrimSpace(v); v != "" {
			app.AddText(ns, name, v)
		}
	}
	if n := card.Name(); n != nil {
		put("LastName", n.FamilyName)
		put("FirstName", n.GivenName)
		put("MiddleName", n.AdditionalName)
		put("Title", n.HonorificPrefix)
		put("Suffix", n.HonorificSuffix)
	}
	put("FileAs", card.PreferredValue(vcard.FieldFormattedName))
	for i, e := range card.Values(vcard.FieldEmail) {
		if i < 3 {
			put(fmt.Sprintf("Email%dAddress", i+1), e)
		}
	}
	used := map[string]bool{}
	for _, f := range card[vcard.FieldTelephone] {
		for _, slot := range phoneSlots {
			if used[slot.elem] || !hasTypes(f.Params, slot.types) {
				continue
			}
			used[slot.elem] = true
			put(slot.elem, strings.TrimPrefix(f.Value, "tel:"))
			break
		}
	}
	addrUsed := map[string]bool{}
	for _, a := range card.Addresses() {
		for _, slot := range addressSlots {
			if addrUsed[slot.prefix] || slot.typ != "" && !a.Params.HasType(slot.typ) {
				continue
			}
			addrUsed[slot.prefix] = true
			street := strings.TrimSpace(strings.Join(slices.DeleteFunc([]string{a.StreetAddress, a.ExtendedAddress},
				func(s string) bool { return s == "" }), "\n"))
			put(slot.prefix+"AddressStreet", street)
			put(slot.prefix+"AddressCity", a.Locality)
			put(slot.prefix+"AddressState", a.Region)
			put(slot.prefix+"AddressPostalCode", a.PostalCode)
			put(slot.prefix+"AddressCountry", a.Country)
			break
		}
	}
	if org := card.Get(vcard.FieldOrganization); org != nil {
		company, dept, _ := strings.Cut(org.Value, ";")
		put("CompanyName", company)
		put("Department", strings.ReplaceAll(dept, ";", ", "))
	}
	put("JobTitle", card.Value(vcard.FieldTitle))
	if d, ok := vcardDate(card.Value(vcard.FieldBirthday)); ok {
		put("Birthday", d.Format("2006-01-02T15:04:05.000Z"))
	}
	anniv := card.Value(vcard.FieldAnniversary)
	if anniv == "" {
		anniv = card.Value("X-ANNIVERSARY")
	}
	if d, ok := vcardDate(anniv); ok {
		put("Anniversary", d.Format("2006-01-02T15:04:05.000Z"))
	}
	put("WebPage", card.Value(vcard.FieldURL))
	var cats []string
	for _, c := range card.Categories() {
		if c = strings.TrimSpace(c); c != "" {
			cats = append(cats, c)
		}
	}
	if len(cats) > 0 {
		ce := app.Add(ns, "Categories")
		for _, c := range cats {
			ce.AddText(ns, "Category", c)
		}
	}
	if pic := vcardPhoto(card.Get(vcard.FieldPhoto)); pic != "" {
		app.AddText(ns, "Picture", pic)
	}
	if note := card.Value(vcard.FieldNote); note != "" {
		addTextBody(app, note, opts)
	}
	if nick := card.Value(vcard.FieldNickname); nick != "" {
		app.AddText(wbxml.NSContacts2, "NickName", nick)
	}
}

func hasTypes(p vcard.Params, types []string) bool {
	for _, t := range types {
		if !p.HasType(t) {
			return false
		}
	}
	return true
}

// vcardDate reads a BDAY or ANNIVERSARY date (RFC 6350 4.3.1, RFC 2426 3.1.5): as UTC
// midnight; a value without a year, or a text value, is not a date.
func vcardDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if len(v) > 10 {
		if i := strings.IndexByte(v, 'T'); i >= 8 {
			v = v[:i]
		}
	}
	for _, layout := range []string{"2006-01-02", "20060102"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// vcardPhoto returns an inline picture as base64, or "" when it is a link or too big.
func vcardPhoto(f *vcard.Field) string {
	if f == nil {
		return ""
	}
	v := strings.TrimSpace(f.Value)
	if rest, ok := strings.CutPrefix(v, "data:"); ok { // vCard 4: a data: URI
		_, data, ok := strings.Cut(rest, ";base64,")
		if !ok {
			return ""
		}
		v = data
	} else if !strings.EqualFold(f.Params.Get("ENCODING"), "b") && !strings.EqualFold(f.Params.Get("ENCODING"), "base64") {
		return ""
	}
	if len(v) > maxPicture {
		return ""
	}
	if _, err := base64.StdEncoding.DecodeString(v); err != nil {
		return ""
	}
	return v
}

// structured joins the components of N, ADR or ORG; a semicolon within a component
// would split it, so it becomes a comma.
func structured(parts ...string) string {
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, ";", ",")
	}
	return strings.Join(parts, ";")
}

// contactFromDevice builds the vCard for a device's Add (prev nil, a new uid) or
// Change; a Change replaces the mapped properties and keeps the others.
func contactFromDevice(app *wbxml.Element, prev vcard.Card, uid string, now time.Time) ([]byte, error) {
	ns := wbxml.NSContacts
	card := vcard.Card{}
	version := "3.0"
	if prev != nil {
		for k, fs := range prev {
			if !slices.Contains(contactFields, k) {
				card[k] = fs
			}
		}
		if v := prev.Value(vcard.FieldVersion); v != "" {
			version = v
		}
	} else {
		card.SetValue(vcard.FieldUID, uid)
	}
	card.SetValue(vcard.FieldVersion, version)
	get := func(name string) string { return strings.TrimSpace(app.ChildText(ns, name)) }
	add := func(field, value string, types ...string) {
		if value == "" {
			return
		}
		f := &vcard.Field{Value: value, Params: vcard.Params{}}
		for _, t := range types {
			f.Params.Add(vcard.ParamType, strings.ToUpper(t))
		}
		card.Add(field, f)
	}
	first, last, middle := get("FirstName"), get("LastName"), get("MiddleName")
	card.Add(vcard.FieldName, &vcard.Field{Value: structured(last, first, middle, get("Title"), get("Suffix"))})
	fn := get("FileAs")
	if fn == "" {
		fn = strings.Join(slices.DeleteFunc([]string{first, middle, last}, func(s string) bool { return s == "" }), " ")
	}
	if fn == "" {
		fn = get("CompanyName")
	}
	if fn == "" {
		fn = strings.TrimSpace(mailAddress(get("Email1Address")))
	}
	card.SetValue(vcard.FieldFormattedName, fn)
	for i := 1; i <= 3; i++ {
		add(vcard.FieldEmail, mailAddress(get(fmt.Sprintf("Email%dAddress", i))), "internet")
	}
	done := map[string]bool{}
	for _, slot := range phoneSlots {
		if done[slot.elem] {
			continue
		}
		done[slot.elem] = true
		types := slot.types
		if len(types) == 0 || slot.elem == "Business2PhoneNumber" || slot.elem == "Home2PhoneNumber" {
			types = map[string][]string{
				"HomePhoneNumber": {vcard.TypeHome, vcard.TypeVoice}, "Home2PhoneNumber": {vcard.TypeHome, vcard.TypeVoice},
				"BusinessPhoneNumber": {vcard.TypeWork, vcard.TypeVoice}, "Business2PhoneNumber": {vcard.TypeWork, vcard.TypeVoice},
			}[slot.elem]
		}
		add(vcard.FieldTelephone, get(slot.elem), types...)
	}
	for _, slot := range addressSlots {
		p := slot.prefix + "Address"
		street, city, state, code, country := get(p+"Street"), get(p+"City"), get(p+"State"), get(p+"PostalCode"), get(p+"Country")
		if street+city+state+code+country == "" {
			continue
		}
		typ := slot.typ
		if typ == "" {
			typ = "other"
		}
		street = strings.ReplaceAll(strings.ReplaceAll(street, "\r\n", "\n"), "\n", ", ")
		add(vcard.FieldAddress, structured("", "", street, city, state, code, country), typ)
	}
	if c, d := get("CompanyName"), get("Department"); c != "" || d != "" {
		card.Add(vcard.FieldOrganization, &vcard.Field{Value: structured(c, d)})
	}
	add(vcard.FieldTitle, get("JobTitle"))
	for elem, field := range map[string]string{"Birthday": vcard.FieldBirthday, "Anniversary": vcard.FieldAnniversary} {
		s := get(elem)
		if s == "" {
			continue
		}
		t, err := parseEASTime(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", elem, err)
		}
		// Devices send the day at local midnight in UTC: the nearest midnight is the day.
		day := t.Add(12 * time.Hour).Format("2006-01-02")
		if field == vcard.FieldAnniversary && version == "3.0" {
			field = "X-ANNIVERSARY"
		}
		add(field, day)
	}
	add(vcard.FieldURL, get("WebPage"))
	add(vcard.FieldNickname, strings.TrimSpace(app.ChildText(wbxml.NSContacts2, "NickName")))
	if cats := app.Child(ns, "Categories"); cats != nil {
		var list []string
		for _, c := range cats.All(ns, "Category") {
			if c.Text != "" {
				list = append(list, c.Text)
			}
		}
		if len(list) > 0 {
			card.SetCategories(list)
		}
	}
	if b := app.Child(wbxml.NSAirSyncBase, "Body"); b != nil {
		add(vcard.FieldNote, bodyText(b))
	}
	if pic := get("Picture"); pic != "" {
		if len(pic) > maxPicture {
			return nil, fmt.Errorf("the picture is larger than %d bytes", maxPicture)
		}
		if _, err := base64.StdEncoding.DecodeString(pic); err != nil {
			return nil, fmt.Errorf("the picture is not base64: %w", err)
		}
		f := &vcard.Field{Params: vcard.Params{}}
		if version == "4.0" {
			f.Value = "data:image/jpeg;base64," + pic
		} else {
			f.Value = pic
			f.Params.Set("ENCODING", "b")
			f.Params.Set(vcard.ParamType, "JPEG")
		}
		card.Add(vcard.FieldPhoto, f)
	}
	card.SetValue(vcard.FieldRevision, now.UTC().Format("20060102T150405Z"))
	var buf bytes.Buffer
	if err := vcard.NewEncoder(&buf).Encode(card); err != nil {
		return nil, fmt.Errorf("write the vCard: %w", err)
	}
	return buf.Bytes(), nil
}

// mailAddress takes the address out of the forms devices send: a bare address or
// `"Name" <address>`.
func mailAddress(s string) string {
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return strings.TrimSpace(s[i+1 : i+j])
		}
	}
	return strings.TrimSpace(s)
}
