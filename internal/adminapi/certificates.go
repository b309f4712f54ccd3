package adminapi

import (
	"net/http"

	"mailroom/internal/directory"
	"mailroom/internal/pki"
)

// listCertificates lists what the CA issued, newest first: to everyone, or to one
// user for users/{user}/certificates.
func (a *API) listCertificates(r *http.Request, _ directory.User) (int, any, error) {
	ctx := r.Context()
	var id int64
	if key := r.PathValue("user"); key != "" {
		u, err := a.c.Directory.User(ctx, key)
		if err != nil {
			return 0, nil, err
		}
		id = u.ID
	}
	cs, err := a.c.Certificates.List(ctx, id)
	if cs == nil {
		cs = []pki.Issued{}
	}
	return http.StatusOK, cs, err
}

// revokeCertificate revokes a certificate: client sign-in with it stops at once, and
// the user's next profile download carries a new one.
func (a *API) revokeCertificate(r *http.Request, _ directory.User) (int, any, error) {
	is, err := a.c.Certificates.Revoke(r.Context(), r.PathValue("serial"))
	return http.StatusOK, is, err
}
