package activesync

// The HTTP transport follows [MS-ASHTTP]: 2.2.1.1.1.1 (base64-encoded query),
// 2.2.1.1.1.2 (plain query), 2.2.1.1.2 (request headers), 2.2.2.1 (status lines),
// 3.2.5.2 (OPTIONS) and 3.1.5.2 (errors).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"mailroom/internal/auth"
	"mailroom/internal/directory"
	"mailroom/internal/httpauth"
	"mailroom/internal/store"
	"mailroom/internal/wbxml"
)

// supportedVersions is what OPTIONS advertises, oldest first ([MS-ASHTTP] 2.2.4.1.2.2).
const supportedVersions = "12.1,14.0,14.1,16.0,16.1"

// advertisedCommands lists exactly the commands handlerFor knows.
const advertisedCommands = "Sync,SendMail,SmartForward,SmartReply,GetAttachment,FolderSync,FolderCreate,FolderDelete," +
	"FolderUpdate,MoveItems,GetItemEstimate,Search,Settings,Ping,ItemOperations,Provision,ResolveRecipients,Find,MeetingResponse"

const contentTypeWBXML = "application/vnd.ms-sync.wbxml"

// request is one parsed ActiveSync request.
type request struct {
	cmd        string
	version    int // the protocol version × 10: 121, 140, 141, 160, 161
	user       directory.User
	deviceID   string
	deviceType string
	policyKey  string
	userAgent  string
	params     map[string]string // command parameters: CollectionId, ItemId, LongId, ...
	saveInSent bool
	// contentType is the request's Content-Type, without parameters.
	contentType string
	body        []byte
	dev         *Device
	// profile is what the user's e-mail profile enforces, read once per request.
	profile Enforced
	slot    chan struct{} // the concurrency slot held, if any
	// hijackable says the request came over HTTP/1.1 and its connection can be taken
	// over (http.Hijacker), so a Ping may wait parked, without its handler (park.go).
	hijackable bool
	// closeAfter says the client asked to close the connection after the answer.
	closeAfter bool
}

// releaseSlot gives the request's concurrency slot back early, for a command that is
// about to wait for changes rather than work.
func (r *request) releaseSlot() {
	if r.slot != nil {
		<-r.slot
		r.slot = nil
	}
}

func (r *request) account() store.AccountID { return store.AccountID(r.user.ID) }

// handler runs one command. It writes its own response; an error it returns is a
// server fault answered with HTTP 500.
type handler func(s *Server, ctx context.Context, w http.ResponseWriter, r *request) error

// command describes how the transport treats a command.
type command struct {
	run handler
	// unprovisioned commands run without a valid policy key.
	unprovisioned bool
	// held commands (Ping) wait for changes and take no concurrency slot.
	held bool
}

// handlerFor returns the command named cmd; it knows exactly advertisedCommands.
func handlerFor(cmd string) (command, bool) {
	switch cmd {
	case "Provision":
		return command{run: (*Server).provision, unprovisioned: true}, true
	case "Settings":
		return command{run: (*Server).settings, unprovisioned: true}, true
	case "FolderSync":
		return command{run: (*Server).folderSync}, true
	case "FolderCreate":
		return command{run: (*Server).folderCreate}, true
	case "FolderUpdate":
		return command{run: (*Server).folderUpdate}, true
	case "FolderDelete":
		return command{run: (*Server).folderDelete}, true
	case "Sync":
		return command{run: (*Server).sync}, true
	case "GetItemEstimate":
		return command{run: (*Server).getItemEstimate}, true
	case "Ping":
		return command{run: (*Server).ping, held: true}, true
	case "MeetingResponse":
		return command{run: (*Server).meetingResponse}, true
	case "SendMail":
		return command{run: (*Server).sendMail}, true
	case "SmartReply":
		return command{run: (*Server).smartReply}, true
	case "SmartForward":
		return command{run: (*Server).smartForward}, true
	case "MoveItems":
		return command{run: (*Server).moveItems}, true
	case "ItemOperations":
		return command{run: (*Server).itemOperations}, true
	case "GetAttachment":
		return command{run: (*Server).getAttachment}, true
	case "Search":
		return command{run: (*Server).search}, true
	case "ResolveRecipients":
		return command{run: (*Server).resolveRecipients}, true
	case "Find":
		return command{run: (*Server).find}, true
	}
	return command{}, false
}

// commandByCode maps the command codes of the base64 query ([MS-ASHTTP]
// 2.2.1.1.1.1.2) to names.
func commandByCode(code byte) string {
	switch code {
	case 0:
		return "Sync"
	case 1:
		return "SendMail"
	case 2:
		return "SmartForward"
	case 3:
		return "SmartReply"
	case 4:
		return "GetAttachment"
	case 9:
		return "FolderSync"
	case 10:
		return "FolderCreate"
	case 11:
		return "FolderDelete"
	case 12:
		return "FolderUpdate"
	case 13:
		return "MoveItems"
	case 14:
		return "GetItemEstimate"
	case 15:
		return "MeetingResponse"
	case 16:
		return "Search"
	case 17:
		return "Settings"
	case 18:
		return "Ping"
	case 19:
		return "ItemOperations"
	case 20:
		return "Provision"
	case 21:
		return "ResolveRecipients"
	case 22:
		return "ValidateCert"
	case 23:
		return "Find"
	}
	return fmt.Sprintf("unknown(%d)", code)
}

// commandRoot is the top-level element of each command's request and response.
func commandRoot(cmd string) (space, name string) {
	switch cmd {
	case "Sync":
		return wbxml.NSAirSync, "Sync"
	case "FolderSync", "FolderCreate", "FolderUpdate", "FolderDelete":
		return wbxml.NSFolderHierarchy, cmd
	case "GetItemEstimate":
		return wbxml.NSGetItemEstimate, cmd
	case "Ping":
		return wbxml.NSPing, cmd
	case "Provision":
		return wbxml.NSProvision, cmd
	case "Settings":
		return wbxml.NSSettings, cmd
	case "SendMail", "SmartReply", "SmartForward":
		return wbxml.NSComposeMail, cmd
	case "MoveItems":
		return wbxml.NSMove, cmd
	case "ItemOperations":
		return wbxml.NSItemOperations, cmd
	case "Search":
		return wbxml.NSSearch, cmd
	case "ResolveRecipients":
		return wbxml.NSResolveRecipients, cmd
	case "Find":
		return wbxml.NSFind, cmd
	case "MeetingResponse":
		return wbxml.NSMeetingResponse, cmd
	}
	return "", ""
}

// parseVersion turns "14.1" into 141; it reports false for versions not served.
func parseVersion(v string) (int, bool) {
	switch strings.TrimSpace(v) {
	case "12.1":
		return 121, true
	case "14.0":
		return 140, true
	case "14.1":
		return 141, true
	case "16.0":
		return 160, true
	case "16.1":
		return 161, true
	}
	return 0, false
}

// errBadQuery is a request line the server cannot read.
var errBadQuery = errors.New("malformed ActiveSync query")

// parseQuery reads the plain or the base64-encoded query into r.
func parseQuery(u *url.URL, h http.Header, r *request) error {
	raw := u.RawQuery
	r.params = map[string]string{}
	q, err := url.ParseQuery(raw)
	if raw != "" && (err != nil || !q.Has("Cmd")) {
		if err := parseBase64Query(raw, r); err != nil {
			return err
		}
		if r.policyKey == "" {
			r.policyKey = h.Get("X-MS-PolicyKey")
		}
		return nil
	}
	r.cmd = q.Get("Cmd")
	r.deviceID = q.Get("DeviceId")
	r.deviceType = q.Get("DeviceType")
	for _, k := range []string{"CollectionId", "ItemId", "LongId", "Occurrence", "AttachmentName", "User"} {
		if v := q.Get(k); v != "" {
			r.params[k] = v
		}
	}
	r.saveInSent = strings.EqualFold(q.Get("SaveInSent"), "T")
	v, ok := parseVersion(h.Get("MS-ASProtocolVersion"))
	if !ok {
		return fmt.Errorf("%w: protocol version %q not supported", errBadQuery, h.Get("MS-ASProtocolVersion"))
	}
	r.version = v
	r.policyKey = h.Get("X-MS-PolicyKey")
	if r.policyKey == "" {
		r.policyKey = q.Get("X-MS-PolicyKey")
	}
	return nil
}

// parseBase64Query decodes the base64 query of [MS-ASHTTP] 2.2.1.1.1.1.
func parseBase64Query(raw string, r *request) error {
	// Base64 uses '+', which must not turn into a space as in a form query.
	s, err := url.PathUnescape(raw)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadQuery, err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return fmt.Errorf("%w: base64: %w", errBadQuery, err)
		}
	}
	buf := bytes.NewReader(b)
	next := func(n int) ([]byte, error) {
		out := make([]byte, n)
		if _, err := io.ReadFull(buf, out); err != nil {
			return nil, fmt.Errorf("%w: truncated base64 query", errBadQuery)
		}
		return out, nil
	}
	counted := func() ([]byte, error) {
		n, err := buf.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("%w: truncated base64 query", errBadQuery)
		}
		return next(int(n))
	}
	head, err := next(4) // version, command, locale (2)
	if err != nil {
		return err
	}
	v, ok := parseVersion(fmt.Sprintf("%d.%d", head[0]/10, head[0]%10))
	if !ok {
		return fmt.Errorf("%w: protocol version %d not supported", errBadQuery, head[0])
	}
	r.version = v
	r.cmd = commandByCode(head[1])
	id, err := counted()
	if err != nil {
		return err
	}
	r.deviceID = string(id)
	key, err := counted()
	if err != nil {
		return err
	}
	switch len(key) {
	case 0:
	case 4:
		r.policyKey = strconv.FormatUint(uint64(binary.LittleEndian.Uint32(key)), 10)
	default:
		return fmt.Errorf("%w: policy key of %d bytes", errBadQuery, len(key))
	}
	typ, err := counted()
	if err != nil {
		return err
	}
	r.deviceType = string(typ)
	for buf.Len() > 0 {
		tag, _ := buf.ReadByte()
		val, err := counted()
		if err != nil {
			return err
		}
		switch tag {
		case 0:
			r.params["AttachmentName"] = string(val)
		case 1:
			r.params["CollectionId"] = string(val)
		case 3:
			r.params["ItemId"] = string(val)
		case 4:
			r.params["LongId"] = string(val)
		case 6:
			r.params["Occurrence"] = string(val)
		case 7:
			if len(val) > 0 && val[0]&0x01 != 0 {
				r.saveInSent = true
			}
		case 8:
			r.params["User"] = string(val)
		}
	}
	return nil
}

// ServeHTTP answers requests to /Microsoft-Server-ActiveSync.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	h := w.Header()
	h.Set("MS-Server-ActiveSync", s.cfg.ServerName)
	h.Set("Cache-Control", "private")
	switch hr.Method {
	case http.MethodOptions:
		if _, ok := s.authenticate(w, hr, hr.URL.Query().Get("User")); !ok {
			return
		}
		h.Set("Allow", "OPTIONS,POST")
		h.Set("Public", "OPTIONS,POST")
		h.Set("MS-ASProtocolVersions", supportedVersions)
		h.Set("MS-ASProtocolCommands", advertisedCommands)
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodPost:
	default:
		h.Set("Allow", "OPTIONS,POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r := &request{userAgent: hr.UserAgent(), hijackable: hr.ProtoMajor == 1 && hr.ProtoMinor >= 1 && canHijack(w), closeAfter: hr.Close}
	r.contentType, _, _ = strings.Cut(strings.ToLower(hr.Header.Get("Content-Type")), ";")
	r.contentType = strings.TrimSpace(r.contentType)
	if err := parseQuery(hr.URL, hr.Header, r); err != nil {
		h.Set("MS-ASProtocolVersions", supportedVersions)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd, known := handlerFor(r.cmd)
	if !known {
		// [MS-ASHTTP] gives no status for an unknown command; 501 says the server
		// does not implement it, and OPTIONS lists what it does.
		http.Error(w, "command not implemented", http.StatusNotImplemented)
		return
	}
	if r.deviceID == "" || len(r.deviceID) > 128 || r.deviceType == "" || len(r.deviceType) > 64 {
		http.Error(w, "DeviceId and DeviceType are required", http.StatusBadRequest)
		return
	}
	if !cmd.held {
		select {
		case s.slots <- struct{}{}:
			r.slot = s.slots
			defer r.releaseSlot()
		default:
			h.Set("Retry-After", "30")
			http.Error(w, "server busy", http.StatusServiceUnavailable)
			return
		}
	}
	u, ok := s.authenticate(w, hr, r.params["User"])
	if !ok {
		return
	}
	r.user = u
	body, err := io.ReadAll(http.MaxBytesReader(w, hr.Body, s.cfg.MaxBodySize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read request body", http.StatusBadRequest)
		return
	}
	r.body = body
	ctx := hr.Context()
	if err := s.admit(ctx, w, r, cmd); err != nil {
		s.fail(w, r, err)
		return
	}
	if r.dev == nil {
		return // admit answered
	}
	start := s.now()
	if err := cmd.run(s, ctx, w, r); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Debug("command", "cmd", r.cmd, "user", r.user.Address, "device", r.deviceID,
		"version", r.version, "duration", s.now().Sub(start))
}

// fail answers a request that hit an error: a malformed body is the client's fault
// (400), anything else the server's (500).
func (s *Server) fail(w http.ResponseWriter, r *request, err error) {
	var bad *badRequestError
	if errors.As(err, &bad) {
		s.log.Info("bad request", "cmd", r.cmd, "user", r.user.Address, "device", r.deviceID, "err", err)
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	s.log.Error("command failed", "cmd", r.cmd, "user", r.user.Address, "device", r.deviceID, "err", err)
	http.Error(w, "internal server error", http.StatusInternalServerError)
}

// badRequestError is a request body the server cannot read.
type badRequestError struct{ err error }

func (e *badRequestError) Error() string { return "malformed request: " + e.err.Error() }
func (e *badRequestError) Unwrap() error { return e.err }

// decodeBody decodes r.body and checks its root element is the command's.
func decodeBody(r *request) (*wbxml.Element, error) {
	root, err := wbxml.Decode(r.body)
	if err != nil {
		return nil, &badRequestError{err}
	}
	space, name := commandRoot(r.cmd)
	if !root.Is(space, name) {
		return nil, &badRequestError{fmt.Errorf("root element %s:%s, want %s:%s", root.Space, root.Name, space, name)}
	}
	return root, nil
}

// authenticate signs the request in: with a TLS client certificate this server issued
// to the user the request names, or else with an OAuth bearer token (RFC 6750 section
// 2.1) or HTTP Basic credentials ([MS-ASHTTP] 2.2.1.1.2.2). Whatever was wrong, the
// answer is the same 401; a refused token's says so (RFC 6750 section 3.1).
func (s *Server) authenticate(w http.ResponseWriter, hr *http.Request, queryUser string) (directory.User, bool) {
	from := auth.Source{Protocol: "activesync", Remote: auth.RemoteHTTP(hr.RemoteAddr)}
	login, password, basic := hr.BasicAuth()
	scheme, token, _ := strings.Cut(hr.Header.Get("Authorization"), " ")
	bearer := strings.EqualFold(scheme, "Bearer") && token != ""
	u, found, err := s.certificateUser(hr, login, queryUser)
	switch {
	case err != nil || found:
	case bearer:
		u, err = s.auth.Bearer(hr.Context(), "", strings.TrimSpace(token), from)
		found = err == nil
	case basic && login != "" && password != "":
		u, err = s.auth.Password(hr.Context(), login, password, from)
		found = err == nil
	}
	switch {
	case found:
		return u, true
	case errors.Is(err, directory.ErrDisabled):
		http.Error(w, "account disabled", http.StatusForbidden)
		return directory.User{}, false
	case err != nil && !errors.Is(err, directory.ErrBadCredentials):
		s.log.Error("authenticate", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return directory.User{}, false
	case bearer && httpauth.InsufficientScope(w.Header(), "Mailroom", err):
		// A good token for other services: 403 (RFC 6750 section 3.1), which
		// [MS-ASHTTP] also gives a user not enabled for ActiveSync.
		s.log.Info("token refused for its scope", "remote", hr.RemoteAddr, "err", err)
		http.Error(w, "the access token does not grant ActiveSync", http.StatusForbidden)
		return directory.User{}, false
	case bearer:
		s.log.Info("token refused", "remote", hr.RemoteAddr, "err", err)
		w.Header().Set("WWW-Authenticate", `Bearer realm="Mailroom", error="invalid_token"`)
		http.Error(w, "invalid or expired access token", http.StatusUnauthorized)
		return directory.User{}, false
	case basic || hr.TLS != nil && len(hr.TLS.PeerCertificates) > 0:
		s.log.Info("login failed", "remote", hr.RemoteAddr)
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="Mailroom"`)
	http.Error(w, "authentication required", http.StatusUnauthorized)
	return directory.User{}, false
}

// certificateUser signs in the user the request names (the Basic user name, else the
// query's User) by the TLS client certificate, when the server takes certificates and
// the device presented one. The certificate is checked against the CA's records on
// every request, so a revoked one stops working at once. found is false when there is
// no certificate, or it is refused (logged), or it is another user's: the request may
// still sign in with a password.
func (s *Server) certificateUser(hr *http.Request, login, queryUser string) (u directory.User, found bool, err error) {
	if s.certs == nil || hr.TLS == nil || len(hr.TLS.PeerCertificates) == 0 {
		return directory.User{}, false, nil
	}
	name := login
	if name == "" {
		name = queryUser
	}
	if name == "" {
		s.log.Info("client certificate without a user name", "remote", hr.RemoteAddr)
		return directory.User{}, false, nil
	}
	ctx := hr.Context()
	addr, err := s.certs.VerifyClient(ctx, hr.TLS.PeerCertificates[0])
	if err != nil {
		s.log.Info("client certificate refused", "user", name, "remote", hr.RemoteAddr, "err", err)
		return directory.User{}, false, nil
	}
	u, err = s.dir.User(ctx, name)
	switch {
	case errors.Is(err, directory.ErrNotFound) || errors.Is(err, directory.ErrInvalid):
		s.log.Info("client certificate for an unknown user", "user", name, "remote", hr.RemoteAddr)
		return directory.User{}, false, nil
	case err != nil:
		return directory.User{}, false, fmt.Errorf("certificate sign-in of %s: %w", name, err)
	case !strings.EqualFold(u.Address, addr) || u.Kind != directory.KindUser:
		s.log.Info("client certificate of another user", "user", name, "certificate", addr, "remote", hr.RemoteAddr)
		return directory.User{}, false, nil
	case !u.Enabled:
		return directory.User{}, false, fmt.Errorf("%w: %s may not log in", directory.ErrDisabled, u.Address)
	}
	return u, true, nil
}

// writeWBXML writes root as the response body.
func (s *Server) writeWBXML(w http.ResponseWriter, root *wbxml.Element) error {
	b, err := wbxml.Encode(root)
	if err != nil {
		return fmt.Errorf("encode %s response: %w", root.Name, err)
	}
	w.Header().Set("Content-Type", contentTypeWBXML)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// writeCommonStatus answers a command with only a top-level Status: the common codes
// of [MS-ASCMD] 2.2.2 for 14.0 and later.
func (s *Server) writeCommonStatus(w http.ResponseWriter, r *request, code commonStatus) error {
	space, name := commandRoot(r.cmd)
	root := wbxml.New(space, name)
	root.AddText(space, "Status", text(code))
	return s.writeWBXML(w, root)
}
