package adminapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/internal/activesync"
	"mailroom/internal/adminapi"
	"mailroom/internal/auth"
	"mailroom/internal/auth/authtest"
	"mailroom/internal/directory"
	"mailroom/internal/instance"
	"mailroom/internal/pki"
	"mailroom/internal/server"
	"mailroom/internal/store"
)

const (
	adminLogin    = "admin@example.test"
	password      = "correct horse battery"
	aliceLogin    = "alice@example.test"
	wrongPassword = "wrong horse battery"
)

// env is the admin API over a real data directory (SQLite, the instance's own
// directory, queue, ActiveSync server, profile service and CA), served over HTTPS on
// loopback beside the ActiveSync endpoint, as internal/server wires it.
type env struct {
	t      *testing.T
	ctx    context.Context
	in     *instance.Instance
	eas    *activesync.Server
	ca     *pki.CA
	ts     *httptest.Server
	client *http.Client
	logs   *syncBuffer
	signIn *auth.Service
	issuer *authtest.Issuer
}

// syncBuffer is the log the API writes to; handlers log from server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	data := filepath.Join(t.TempDir(), "data")
	must(t, instance.Init(ctx, instance.InitOptions{Dir: data, Hostname: "mail.example.test", Domain: "example.test"}, log))
	in, err := instance.Open(ctx, data, log)
	must(t, err)
	svc, ca, err := server.Profiles(ctx, in)
	must(t, err)
	eas, err := server.ActiveSync(ctx, in, log)
	must(t, err)
	issuer := authtest.NewIssuer(nil)
	signIn, err := auth.New(ctx, auth.Config{DB: in.DB, Directory: in.Directory, Tokens: issuer, Logger: log})
	must(t, err)
	e := &env{t: t, ctx: ctx, in: in, eas: eas, ca: ca, logs: logs, signIn: signIn, issuer: issuer}
	e.addUser(directory.NewUser{Address: adminLogin, Password: password, Admin: true})
	e.addUser(directory.NewUser{Address: aliceLogin, Password: password})

	api := adminapi.New(adminapi.Config{
		Directory: in.Directory, Domains: in, Queue: in.Queue, Devices: eas, Profiles: svc, Certificates: ca,
		Services: server.Discovery(in.Config), Hostname: in.Config.Hostname,
		Authenticators: []adminapi.Authenticator{adminapi.Basic{Passwords: signIn}, adminapi.Bearer{Tokens: signIn}},
		Logger:         log,
	})
	mux := http.NewServeMux()
	api.Register(mux)
	mux.Handle("/Microsoft-Server-ActiveSync", eas)
	e.ts = httptest.NewUnstartedServer(mux)
	e.ts.Listener.Close()
	e.ts.Listener, err = net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	e.ts.StartTLS()
	e.client = e.ts.Client()
	e.client.Timeout = 30 * time.Second
	t.Cleanup(func() {
		e.ts.Close()
		_ = eas.Shutdown(ctx)
		in.Close()
	})
	return e
}

func (e *env) addUser(nu directory.NewUser) directory.User {
	e.t.Helper()
	u, err := e.in.Directory.AddUser(e.ctx, nu)
	must(e.t, err)
	_, err = e.in.Store.EnsureAccount(e.ctx, store.AccountID(u.ID))
	must(e.t, err)
	return u
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// answer is a response read whole.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

// apiErr is the API's error body.
type apiErr struct {
	Error    string `json:"error"`
	Field    string `json:"field"`
	Problems []struct {
		Field string `json:"field"`
		Error string `json:"error"`
	} `json:"problems"`
}

func (a answer) errBody(t *testing.T) apiErr {
	t.Helper()
	var e apiErr
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("error body %q: %v", a.body, err)
	}
	return e
}

// call sends method path (below /api/v1/) with body as JSON (nil: none), signed in
// as login unless login is "".
func (e *env) call(login, pass, method, path string, body any) answer {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		must(e.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.ts.URL+adminapi.Prefix+path, rd)
	must(e.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if login != "" {
		req.SetBasicAuth(login, pass)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) answer {
	e.t.Helper()
	resp, err := e.client.Do(req)
	must(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(e.t, err)
	return answer{code: resp.StatusCode, header: resp.Header, body: b}
}

// admin calls as the administrator and checks the status; out, when not nil,
// receives the JSON answer.
func (e *env) admin(method, path string, body any, want int, out any) answer {
	e.t.Helper()
	a := e.call(adminLogin, password, method, path, body)
	if a.code != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, a.code, want, a.body)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, a.body)
		}
	}
	return a
}

// easRequest sends one ActiveSync command as a device of login would, with an empty
// body: enough for the server to record the device partnership.
func (e *env) easRequest(login, deviceID, cmd string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost,
		e.ts.URL+"/Microsoft-Server-ActiveSync?Cmd="+cmd+"&User="+login+"&DeviceId="+deviceID+"&DeviceType=iPhone", nil)
	must(e.t, err)
	req.SetBasicAuth(login, password)
	req.Header.Set("MS-ASProtocolVersion", "16.1")
	req.Header.Set("Content-Type", "application/vnd.ms-sync.wbxml")
	req.Header.Set("User-Agent", "Apple-iPhone15C2/2201.100")
	resp, err := e.client.Do(req)
	must(e.t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
