package server

import (
	"context"
	"log/slog"

	"mailroom/internal/config"
	"mailroom/internal/instance"
	"mailroom/internal/pki"
	"mailroom/internal/scep"
)

// EnrolmentURLs are the addresses of the SCEP endpoint and the CA's CRL and OCSP
// responder that profiles and certificates name: on the HTTPS listener, as Discovery
// offers it. The plain HTTP listener answers them too (docs/certificates.md). Without
// an HTTPS listener they are empty: certificates then name no CRL or OCSP, and SCEP
// profiles cannot be delivered.
type EnrolmentURLs struct{ SCEP, CRL, OCSP string }

// Enrolment returns the EnrolmentURLs of the configuration.
func Enrolment(cfg config.Config) EnrolmentURLs {
	base := Discovery(cfg).HTTPS
	if base == "" {
		return EnrolmentURLs{}
	}
	return EnrolmentURLs{SCEP: base + scep.Path, CRL: base + scep.CRLPath, OCSP: base + scep.OCSPPath}
}

// openCA opens the built-in CA with the CRL and OCSP URLs its certificates name.
func openCA(ctx context.Context, in *instance.Instance) (*pki.CA, error) {
	u := Enrolment(in.Config)
	return pki.Open(ctx, in.DB, pki.Options{Name: "Mailroom CA " + in.Config.Hostname, CRLURL: u.CRL, OCSPURL: u.OCSP})
}

// SCEP builds the SCEP, CRL and OCSP endpoints of the built-in CA.
func SCEP(ctx context.Context, in *instance.Instance, ca *pki.CA, log *slog.Logger) (*scep.Server, error) {
	challenges, err := scep.OpenChallenges(ctx, in.DB, 0, nil)
	if err != nil {
		return nil, err
	}
	return scep.New(scep.Options{CA: ca, Challenges: challenges, Users: in.Directory, Logger: log.With("component", "scep")})
}
