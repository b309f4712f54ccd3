package imap

import (
	"context"
	"strings"
	"testing"

	"mailroom/internal/store"
)

// TestPIMFoldersHidden checks that calendars, address books, task lists and notes, and
// the further collections DAV creates below them, are neither listed nor selectable.
func TestPIMFoldersHidden(t *testing.T) {
	e := newSrvEnv(t)
	ctx := context.Background()
	acct := store.AccountID(e.alice.ID)
	cal, err := e.store.CreateFolder(ctx, acct, 0, "Calendar", store.RoleCalendar)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateFolder(ctx, acct, cal.ID, "work", store.RoleNone); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreateFolder(ctx, acct, 0, "Contacts", store.RoleContacts); err != nil {
		t.Fatal(err)
	}
	c := e.loginRaw(t)
	c.send(`a1 LIST "" *`)
	for _, line := range c.until("a1") {
		if strings.Contains(line, "Calendar") || strings.Contains(line, "Contacts") || strings.Contains(line, "work") {
			t.Errorf("listed: %s", line)
		}
	}
	for i, name := range []string{"Calendar", "Calendar/work", "Contacts"} {
		tag := string(rune('b' + i))
		c.send(tag + ` SELECT "` + name + `"`)
		c.expect(tag + ` NO \[NONEXISTENT\] .*`)
	}
}
