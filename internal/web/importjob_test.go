package web

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailroom/internal/store"
)

// testMaxImport is the console's upload limit in the tests.
const testMaxImport = 64 << 10

// upload posts the import form as a browser does: multipart, with the CSRF token.
func (b *browser) upload(fields map[string]string, file string, content []byte) (int, string, *http.Response) {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", b.csrf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != "" {
		fw, err := mw.CreateFormFile("mbox", file)
		if err != nil {
			b.t.Fatal(err)
		}
		fw.Write(content)
	}
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, b.base+"/admin/import", &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String(), resp
}

func mboxOf(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "From a@example.test Thu Jan  1 10:00:00 2026\nFrom: a@example.test\nSubject: imported %d\n\nBody %d.\n\n", i, i)
	}
	return b.Bytes()
}

var importedCount = regexp.MustCompile(`<span id="imported">(\d+)</span>`)

// TestConsoleImport: an administrator uploads an mbox file for a user; the import
// runs in the background and its page reloads itself until it shows the count; the
// messages are in the folder. Bad uploads are refused next to their field and
// import nothing; users who are not administrators cannot import.
func TestConsoleImport(t *testing.T) {
	c := newConsole(t)
	ctx := context.Background()
	admin := c.signIn("admin@example.test")
	admin.do(http.MethodGet, "/admin/import", nil)
	code, body, resp := admin.upload(map[string]string{"user": "user@example.test", "folder": "Archive/Old"}, "old.mbox", mboxOf(25))
	if code != http.StatusSeeOther {
		t.Fatalf("start: HTTP %d\n%s", code, body)
	}
	job := resp.Header.Get("Location")
	if !strings.HasPrefix(job, "/admin/import/") {
		t.Fatalf("redirect to %q", job)
	}
	var page string
	for deadline := time.Now().Add(30 * time.Second); ; {
		_, page, _ = admin.do(http.MethodGet, job, nil)
		if strings.Contains(page, "Done:") {
			break
		}
		if !strings.Contains(page, `http-equiv="refresh"`) {
			t.Fatalf("a running import's page does not reload itself:\n%s", page)
		}
		if time.Now().After(deadline) {
			t.Fatalf("import not done in time:\n%s", page)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m := importedCount.FindStringSubmatch(page); m == nil || m[1] != "25" || strings.Contains(page, `http-equiv="refresh"`) {
		t.Fatalf("finished import page:\n%s", page)
	}
	u := mustUser(t, c, "user@example.test")
	f, err := c.in.Store.FolderByPath(ctx, store.AccountID(u.ID), []string{"Archive", "Old"})
	if err != nil {
		t.Fatal(err)
	}
	if list, err := c.in.Store.List(ctx, f.ID); err != nil || len(list) != 25 {
		t.Fatalf("Archive/Old holds %d messages, %v", len(list), err)
	}
	if _, body, _ := admin.do(http.MethodGet, "/admin/import", nil); !strings.Contains(body, "old.mbox") || !strings.Contains(body, ">done<") {
		t.Errorf("import list:\n%s", body)
	}

	cases := []struct {
		name    string
		user    string
		file    string
		content []byte
		code    int
		want    string
	}{
		{"unknown mailbox", "nobody@example.test", "a.mbox", mboxOf(1), http.StatusUnprocessableEntity, `id="user-error"`},
		{"no file", "user@example.test", "", nil, http.StatusUnprocessableEntity, "choose an mbox file"},
		{"not an mbox", "user@example.test", "a.txt", []byte("Hello, this is not mail.\n"), http.StatusUnprocessableEntity, "not an mbox file"},
		{"too large", "user@example.test", "big.mbox", bytes.Repeat([]byte("x"), testMaxImport+(2<<20)), http.StatusRequestEntityTooLarge, "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.code != http.StatusRequestEntityTooLarge {
				admin.do(http.MethodGet, "/admin/import", nil)
			}
			code, body, _ := admin.upload(map[string]string{"user": tc.user}, tc.file, tc.content)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("HTTP %d, want %d with %q:\n%s", code, tc.code, tc.want, body)
			}
		})
	}
	inbox, err := c.in.Store.FolderByPath(ctx, store.AccountID(u.ID), []string{"INBOX"})
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := c.in.Store.List(ctx, inbox.ID); len(list) != 0 {
		t.Errorf("refused uploads imported %d messages", len(list))
	}
	if code, _, _ := admin.do(http.MethodGet, "/admin/import/nosuchjob", nil); code != http.StatusNotFound {
		t.Errorf("unknown job: HTTP %d", code)
	}
	user := c.signIn("user@example.test")
	if code, _, _ := user.upload(map[string]string{"user": "user@example.test"}, "a.mbox", mboxOf(1)); code != http.StatusForbidden {
		t.Errorf("import by a user: HTTP %d, want 403", code)
	}
}
