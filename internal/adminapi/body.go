package adminapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// decode reads the request's body into v: JSON by its Content-Type, at most maxBody
// bytes (ServeHTTP caps the body), exactly one value, and no field v does not have, so that a misspelt field is
// an error rather than a setting silently left alone.
func decode(r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &requestError{status: http.StatusUnsupportedMediaType,
			err: errors.New("the request body must be JSON, sent with Content-Type: application/json")}
	}
	return decodeJSON(r.Body, v)
}

// decodeOptional is decode for routes whose body may be left out; an empty body
// leaves v as it is.
func decodeOptional(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decode(r, v)
}

// decodeJSON decodes one JSON value from rd into v and says what is wrong with it in
// terms of the request's fields.
func decodeJSON(rd io.Reader, v any) error {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return badRequest("", "the request body has more after its JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a 400 naming the field, or keeps a body that
// is too large as it is (413).
func jsonError(err error) error {
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return badRequest("", "the request body is empty; it must be a JSON object")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badRequest("", "the request body must be a JSON object, not %s", typeErr.Value)
		}
		return badRequest(typeErr.Field, "%s must be %s, not %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "the request body is not valid JSON: %v", err)
	}
	// encoding/json gives no type for an unknown field, only this text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if n, qerr := strconv.Unquote(name); qerr == nil {
			name = n
		}
		return badRequest(name, "unknown field %q", name)
	}
	return badRequest("", "the request body cannot be read: %v", err)
}

// jsonKind names a Go kind as JSON calls it.
func jsonKind(kind string) string {
	switch kind {
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	}
	return "a number"
}
