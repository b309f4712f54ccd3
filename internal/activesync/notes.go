package activesync

// The Notes class ([MS-ASNOTE] 2.2.2): Subject, a plain-text Body, Categories and
// LastModifiedDate, over pim's note items (the subject in the wrapper's header, the text
// as the body); the categories are the item's property, as for mail.

import (
	"encoding/json"
	"time"

	"mailroom/internal/mime"
	"mailroom/internal/pim"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// renderNote writes a note as Notes class ApplicationData.
func renderNote(app *wbxml.Element, m *store.Message, text []byte, opts itemOptions) {
	ns := wbxml.NSNotes
	app.AddText(ns, "Subject", mime.DecodeHeader(m.Envelope.Subject))
	addTextBody(app, string(text), opts)
	app.AddText(ns, "MessageClass", "IPM.StickyNote")
	app.AddText(ns, "LastModifiedDate", m.InternalDate.UTC().Format(compactTime))
	if cats := categoriesOf(m); len(cats) > 0 {
		ce := app.Add(ns, "Categories")
		for _, c := range cats {
			ce.AddText(ns, "Category", c)
		}
	}
}

// noteFromDevice builds the note item for a device's Add or Change; its time is now
// (a device's LastModifiedDate is its own clock, not the server's).
func noteFromDevice(app *wbxml.Element, name string) (store.NewMessage, error) {
	ns := wbxml.NSNotes
	body := ""
	if b := app.Child(wbxml.NSAirSyncBase, "Body"); b != nil {
		body = bodyText(b)
	}
	item, err := pim.Note(name, app.ChildText(ns, "Subject"), body)
	if err != nil {
		return store.NewMessage{}, err
	}
	var list []string
	for _, c := range app.Child(ns, "Categories").All(ns, "Category") {
		if c.Text != "" {
			list = append(list, clipText(c.Text, 255))
		}
	}
	if len(list) > 0 {
		b, _ := json.Marshal(list) // strings always marshal
		item.Props[propCategories] = string(b)
	}
	item.InternalDate = time.Time{}
	return item, nil
}
