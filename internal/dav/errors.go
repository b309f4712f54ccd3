package dav

import (
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"mailroom/internal/pim"
	"mailroom/internal/store"
)

// davError is a failure with the status the client must see and, for a precondition
// or postcondition (RFC 4918 16), the condition element that names it.
type davError struct {
	status    int
	condition xml.Name // zero: none
	inner     string   // rendered content of the condition element (an href for no-uid-conflict)
	msg       string
}

func (e *davError) Error() string { return e.msg }

func errStatus(status int, format string, args ...any) *davError {
	return &davError{status: status, msg: fmt.Sprintf(format, args...)}
}

func errCondition(status int, cond xml.Name, format string, args ...any) *davError {
	return &davError{status: status, condition: cond, msg: fmt.Sprintf(format, args...)}
}

// writeError answers with err: a davError as it says, store and validation errors by
// their kind, anything else as 500 with the detail logged, not shown.
func writeError(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	var de *davError
	switch {
	case errors.As(err, &de):
	case errors.Is(err, pim.ErrInvalid):
		de = &davError{status: http.StatusBadRequest, msg: err.Error()}
	case errors.Is(err, store.ErrNotFound):
		de = &davError{status: http.StatusNotFound, msg: "not found"}
	case errors.Is(err, store.ErrOverQuota):
		de = &davError{status: http.StatusInsufficientStorage, condition: dav("quota-not-exceeded"), msg: err.Error()}
	case errors.Is(err, store.ErrTooLarge):
		de = &davError{status: http.StatusRequestEntityTooLarge, msg: err.Error()}
	case errors.Is(err, store.ErrExists):
		de = &davError{status: http.StatusMethodNotAllowed, msg: "it exists already"}
	case errors.Is(err, store.ErrInvalid):
		de = &davError{status: http.StatusBadRequest, msg: err.Error()}
	default:
		log.Error("dav request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		de = &davError{status: http.StatusInternalServerError, msg: "the server could not complete the request; try again later"}
	}
	if de.status >= 400 && de.status < 500 {
		log.Debug("dav request refused", "method", r.Method, "path", r.URL.Path, "status", de.status, "err", de.msg)
	}
	// RFC 4918 8.7: a DAV:error body carries the condition; the message is for people.
	body := xml.Header + `<d:error xmlns:d="DAV:" xmlns:c="` + nsCalDAV + `" xmlns:card="` + nsCardDAV + `" xmlns:m="` + nsMailroom + `">`
	if de.condition.Local != "" {
		body += elem(de.condition, de.inner)
	}
	body += text(xml.Name{Space: nsMailroom, Local: "message"}, de.msg) + "</d:error>"
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(de.status)
	w.Write([]byte(body))
}
