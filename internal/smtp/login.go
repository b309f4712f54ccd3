package smtp

// The LOGIN SASL mechanism (draft-murchison-sasl-login-00), which go-sasl has no server
// for and which Outlook and older clients still use: the server asks "Username:" and
// then "Password:", each base64-encoded by go-smtp, and the client answers each in
// turn. A client may send the user name as the initial response (RFC 4954 4).

import "github.com/emersion/go-sasl"

type loginServer struct {
	step         int
	username     string
	authenticate func(username, password string) error
}

func newLoginServer(authenticate func(username, password string) error) sasl.Server {
	return &loginServer{authenticate: authenticate}
}

// Steps of the exchange.
const (
	loginStart = iota
	loginWantUsername
	loginWantPassword
	loginDone
)

// Next implements sasl.Server. A nil response means the client sent no initial
// response.
func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case loginStart:
		if response == nil {
			l.step = loginWantUsername
			return []byte("Username:"), false, nil
		}
		l.username = string(response)
		l.step = loginWantPassword
		return []byte("Password:"), false, nil
	case loginWantUsername:
		l.username = string(response)
		l.step = loginWantPassword
		return []byte("Password:"), false, nil
	case loginWantPassword:
		l.step = loginDone
		return nil, true, l.authenticate(l.username, string(response))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}
