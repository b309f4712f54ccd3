package adminapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"mailroom/internal/activesync"
	"mailroom/internal/directory"
	"mailroom/internal/pki"
	"mailroom/internal/profiles"
	"mailroom/internal/queue"
)

// apiError is the body of every error answer.
type apiError struct {
	Message string `json:"error"`
	// Field is the request field (JSON name) that is wrong, when the service says.
	Field string `json:"field,omitempty"`
	// Problems lists every wrong field when there is more than one (profile settings
	// are all checked at once).
	Problems []problem `json:"problems,omitempty"`
}

type problem struct {
	Field   string `json:"field"`
	Message string `json:"error"`
}

// requestError is an error a handler found itself, with the status it gets.
type requestError struct {
	status int
	field  string
	err    error
}

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

// badRequest is a 400 about field.
func badRequest(field, format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, field: field, err: fmt.Errorf(format, args...)}
}

// notFound is a 404 for a lookup whose error would otherwise read as bad input, such
// as a domain in the path that is not one of ours.
func notFound(err error) error {
	return &requestError{status: http.StatusNotFound, err: err}
}

// inField names the request field a service's refusal is about, unless the service's
// message names one itself.
func inField(field string, err error) error {
	if err == nil || statusOf(err) != http.StatusBadRequest || proseField(err) != "" {
		return err
	}
	return &requestError{field: field, err: err}
}

// statusOf maps an error to the status it gets: the services' sentinels are matched
// with errors.Is, so every wrapping keeps its meaning.
func statusOf(err error) int {
	var re *requestError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &re) && re.status != 0:
		return re.status
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, directory.ErrInvalid), errors.Is(err, directory.ErrWeakPassword),
		errors.Is(err, directory.ErrUnknownDomain),
		errors.Is(err, profiles.ErrInvalid), errors.Is(err, activesync.ErrInvalid), errors.Is(err, pki.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, profiles.ErrNotFound),
		errors.Is(err, activesync.ErrNotFound), errors.Is(err, queue.ErrNotFound), errors.Is(err, pki.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, directory.ErrExists), errors.Is(err, directory.ErrInUse),
		errors.Is(err, profiles.ErrExists), errors.Is(err, profiles.ErrInUse), errors.Is(err, profiles.ErrConflict):
		return http.StatusConflict
	case errors.As(err, &re):
		return http.StatusBadRequest // a field given without a status is bad input
	}
	return http.StatusInternalServerError
}

// fail answers with err. A 500 says nothing of the cause, which is logged.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	if code == http.StatusInternalServerError {
		a.log.Error("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, code, apiError{Message: "internal error; the server log has the details"})
		return
	}
	body := apiError{Message: err.Error()}
	if code == http.StatusRequestEntityTooLarge {
		body.Message = fmt.Sprintf("request body larger than %d bytes", maxBody)
	}
	if code == http.StatusBadRequest {
		body.Problems = settingProblems(err)
		switch {
		case len(body.Problems) > 0:
			body.Field = body.Problems[0].Field
			if len(body.Problems) == 1 {
				body.Problems = nil
			}
		default:
			body.Field = fieldOf(err)
		}
	}
	writeError(w, code, body)
}

// settingProblems lists every *profiles.SettingError in err (Validate joins them), by
// the setting's JSON name.
func settingProblems(err error) []problem {
	var out []problem
	var walk func(error)
	walk = func(e error) {
		if se, ok := e.(*profiles.SettingError); ok {
			out = append(out, problem{Field: settingField(se.Setting), Message: se.Error()})
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range j.Unwrap() {
				walk(c)
			}
		} else if c := errors.Unwrap(e); c != nil {
			walk(c)
		}
	}
	walk(err)
	return out
}

// settingField is the JSON name inside a setting's name, "Email server (host)" →
// "settings.host".
func settingField(setting string) string {
	open, close := strings.LastIndexByte(setting, '('), strings.LastIndexByte(setting, ')')
	if open < 0 || close < open {
		return "settings"
	}
	return "settings." + setting[open+1:close]
}

// fieldOf names the request field an error is about: the one a handler attached, else
// the one the directory's message starts with.
func fieldOf(err error) string {
	var re *requestError
	if errors.As(err, &re) && re.field != "" {
		return re.field
	}
	return proseField(err)
}

// proseFields are how the directory's refusals name attributes ("invalid: UPN …",
// "weak password: the password …"), with their JSON names.
var proseFields = []struct{ prose, field string }{
	{"password", "password"},
	{"UPN", "upn"},
	{"sAMAccountName", "sam"},
	{"no sAMAccountName", "sam"},
	{"display name", "displayName"},
	{"given name", "givenName"},
	{"surname", "surname"},
	{"department", "department"},
	{"title", "title"},
	{"phone", "phone"},
	{"NetBIOS name", "netbios"},
	{"group name", "name"},
	{"address", "address"},
	{"right", "right"},
	{"kind", "kind"},
	{"access", "access"},
	{"rule field", "field"},
	{"rule needs a pattern", "pattern"},
	{"assignment mode", "mode"},
}

// proseField finds the attribute a directory or service refusal starts with.
func proseField(err error) string {
	if errors.Is(err, directory.ErrWeakPassword) {
		return "password"
	}
	// Every service's ErrInvalid reads "invalid".
	msg := err.Error()
	i := strings.Index(msg, directory.ErrInvalid.Error()+": ")
	if i < 0 {
		return ""
	}
	rest := strings.TrimPrefix(msg[i+len(directory.ErrInvalid.Error()+": "):], "the ")
	for _, p := range proseFields {
		if rest == p.prose || strings.HasPrefix(rest, p.prose+" ") || strings.HasPrefix(rest, p.prose+":") {
			return p.field
		}
	}
	return ""
}

func writeError(w http.ResponseWriter, code int, e apiError) {
	writeJSON(w, code, e)
}

// writeJSON sends v as the answer; nil sends no body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	if v == nil {
		w.WriteHeader(code)
		return
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error": "internal error: the answer could not be encoded"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
