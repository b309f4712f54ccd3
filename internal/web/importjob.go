package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"mailroom/internal/directory"
	"mailroom/internal/importer"
	"mailroom/internal/mailio"
	"mailroom/internal/store"
)

// DefaultMaxImport is the largest mbox file the console takes when Config.MaxImport
// is zero. Bigger files are imported with `mailroom import` on the server.
const DefaultMaxImport = 256 << 20

// keptJobs is how many imports the console remembers, newest first.
const keptJobs = 20

// importJob is an import the console runs in the background, in this process: its
// page reloads itself until the job is done. Jobs are kept in memory only, so a
// restart forgets them (the messages already imported stay).
type importJob struct {
	id, user, file, folder string
	started                time.Time

	mu       sync.Mutex
	progress importer.Progress
	counts   []importer.FolderCount
	finished time.Time
	err      error
}

// importStatus is what the pages show of a job.
type importStatus struct {
	ID, User, File, Folder string
	Started, Finished      time.Time
	Imported               int
	Current                string // the folder being filled
	Done                   bool
	Error                  string
	Counts                 []importer.FolderCount
}

func (j *importJob) status() importStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := importStatus{ID: j.id, User: j.user, File: j.file, Folder: j.folder, Started: j.started, Finished: j.finished,
		Imported: j.progress.Imported, Current: j.progress.Folder, Done: !j.finished.IsZero(), Counts: j.counts}
	if j.err != nil {
		st.Error = j.err.Error()
	}
	return st
}

func (j *importJob) update(p importer.Progress) {
	j.mu.Lock()
	j.progress = p
	j.mu.Unlock()
}

func (j *importJob) finish(counts []importer.FolderCount, err error, at time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.counts, j.err, j.finished = counts, err, at
	n := 0
	for _, c := range counts {
		n += c.Count
	}
	j.progress.Imported = n
}

// importJobs is the console's list of imports, newest first.
type importJobs struct {
	mu   sync.Mutex
	list []*importJob
}

func (js *importJobs) add(j *importJob) {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.list = append([]*importJob{j}, js.list...)
	// Forget the oldest finished jobs beyond keptJobs; a running one stays listed.
	for i := len(js.list) - 1; i >= keptJobs; i-- {
		if !js.list[i].status().Done {
			continue
		}
		js.list = append(js.list[:i], js.list[i+1:]...)
	}
}

func (js *importJobs) get(id string) *importJob {
	js.mu.Lock()
	defer js.mu.Unlock()
	for _, j := range js.list {
		if j.id == id {
			return j
		}
	}
	return nil
}

func (js *importJobs) statuses() []importStatus {
	js.mu.Lock()
	list := append([]*importJob(nil), js.list...)
	js.mu.Unlock()
	out := make([]importStatus, len(list))
	for i, j := range list {
		out[i] = j.status()
	}
	return out
}

// importForm is the import page: the upload form and the recent jobs.
type importForm struct {
	MaxMiB int64
	Jobs   []importStatus
}

func (h *Handler) loadImports(context.Context) (any, error) {
	return importForm{MaxMiB: h.maxImport() >> 20, Jobs: h.jobs.statuses()}, nil
}

func (h *Handler) maxImport() int64 {
	if h.cfg.MaxImport > 0 {
		return h.cfg.MaxImport
	}
	return DefaultMaxImport
}

func (h *Handler) imports(w http.ResponseWriter, r *http.Request, s *session) {
	h.show(w, r, s, "import", "Import mail", "import", h.loadImports, nil, nil)
}

// startImport takes an uploaded mbox file for a mailbox and starts importing it in
// the background, then sends the browser to the job's progress page. Nothing is
// imported when the form is refused.
func (h *Handler) startImport(w http.ResponseWriter, r *http.Request, s *session) {
	refuse := func(field string, err error) {
		h.show(w, r, s, "import", "Import mail", "import", h.loadImports, r.PostForm, map[string]string{field: err.Error()})
	}
	ctx := r.Context()
	u, err := h.cfg.Directory.User(ctx, r.PostFormValue("user"))
	switch {
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrInvalid):
		refuse("user", fmt.Errorf("no user or shared mailbox %q", r.PostFormValue("user")))
		return
	case err != nil:
		h.fail(w, r, s, err)
		return
	}
	upload, hdr, err := r.FormFile("mbox")
	if err != nil {
		refuse("mbox", errors.New("choose an mbox file to upload"))
		return
	}
	defer upload.Close()
	if hdr.Size > h.maxImport() {
		refuse("mbox", fmt.Errorf("the file is larger than %d MiB; import it with `mailroom import` on the server", h.maxImport()>>20))
		return
	}
	path, err := spool(upload)
	if err != nil {
		h.fail(w, r, s, err)
		return
	}
	folder := r.PostFormValue("folder")
	sources, err := importer.Sources(path, folder)
	if err != nil {
		os.Remove(path)
		if errors.Is(err, mailio.ErrUnknownFormat) {
			refuse("mbox", errors.New(`the file does not start with a "From " line, so it is not an mbox file`))
			return
		}
		h.fail(w, r, s, err)
		return
	}
	j := &importJob{id: newToken(), user: u.Address, file: hdr.Filename, folder: sources[0].Folder, started: h.now()}
	h.jobs.add(j)
	h.log.Info("console import started", "by", s.user.Address, "mailbox", u.Address, "file", hdr.Filename, "bytes", hdr.Size, "job", j.id)
	// The job outlives the request; it ends with the process at the latest.
	go h.runImport(context.WithoutCancel(ctx), j, store.AccountID(u.ID), sources, path)
	redirect(w, r, "/admin/import/"+j.id)
}

// spool copies the upload to a temporary file of its own, which outlives the request
// (the multipart form's files are removed when the request ends).
func spool(upload io.Reader) (string, error) {
	f, err := os.CreateTemp("", "mailroom-import-*.mbox")
	if err != nil {
		return "", fmt.Errorf("keep the uploaded file: %w", err)
	}
	_, err = io.Copy(f, upload)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("keep the uploaded file: %w", err)
	}
	return f.Name(), nil
}

func (h *Handler) runImport(ctx context.Context, j *importJob, acct store.AccountID, sources []importer.Source, path string) {
	defer os.Remove(path)
	counts, err := importer.Run(ctx, h.cfg.Messages, acct, sources, j.update)
	j.finish(counts, err, h.now())
	st := j.status()
	if err != nil {
		h.log.Warn("console import failed", "mailbox", j.user, "job", j.id, "imported", st.Imported, "err", err)
		return
	}
	h.log.Info("console import done", "mailbox", j.user, "job", j.id, "imported", st.Imported)
}

// importProgress shows one job; it reloads itself until the job is done.
func (h *Handler) importProgress(w http.ResponseWriter, r *http.Request, s *session) {
	j := h.jobs.get(r.PathValue("job"))
	if j == nil {
		h.render(w, http.StatusNotFound, "error", view{Title: "Not Found", User: s.user, CSRF: s.csrf,
			Data: "No such import. Imports are listed only until the server restarts; the messages they imported stay."})
		return
	}
	st := j.status()
	v := view{Title: "Import into " + st.User, Section: "import", User: s.user, CSRF: s.csrf, Data: st}
	if !st.Done {
		v.Refresh = refreshSeconds
	}
	h.render(w, http.StatusOK, "importjob", v)
}
