package oauth

import (
	"bytes"
	"encoding/base64"
	"html/template"
	"image/png"
	"log/slog"
	"net/http"

	"github.com/pquerna/otp"
)

// page is what every sign-in page shows; each template reads the fields it needs.
type page struct {
	Title    string
	Client   string // the app asking for access
	Error    string
	CSRF     string
	Login    string
	UserCode string
	Scopes   []string
	// Enrolment.
	Secret, URI string
	QR          template.URL // a data: URL of the PNG
	// Recovery codes, shown once.
	Codes []string
	// Done.
	Message string
}

// The pages: plain HTML forms, no script. Every form posts to the sign-in endpoint,
// which knows from the sign-in state (not from the form) which step it is at.
var pages = template.Must(template.New("layout").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} – Mailroom</title>
<style>
body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
label{display:block;margin:1rem 0 .3rem}input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}.error{color:#a00}code{word-break:break-all}
ul.codes{font-family:monospace;font-size:1.1rem}
</style></head><body>
<h1>{{.Title}}</h1>
{{if .Client}}<p>for <strong>{{.Client}}</strong></p>{{end}}
{{if .Error}}<p class="error" id="error">{{.Error}}</p>{{end}}
{{block "body" .}}{{end}}
</body></html>`))

func define(body string) *template.Template {
	return template.Must(template.Must(pages.Clone()).New("body").Parse(body))
}

var (
	passwordPage = define(`<form method="post" action="` + pathLogin + `">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="login">Email address or user name</label><input type="text" id="login" name="login" value="{{.Login}}" autocomplete="username" autofocus required>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="submit">Sign in</button></form>`)

	mfaPage = define(`<p>Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
<form method="post" action="` + pathLogin + `">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="code">Code</label><input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" autofocus required>
<button type="submit" id="submit">Verify</button></form>`)

	enrolPage = define(`<p>Your account must use two-step verification. Add this account to an authenticator app
(scan the code, or enter the secret by hand), then enter the 6-digit code it shows.</p>
{{if .QR}}<p><img src="{{.QR}}" alt="QR code of the otpauth URI" width="200" height="200"></p>{{end}}
<p>Secret: <code id="secret">{{.Secret}}</code></p>
<p>URI: <code id="uri">{{.URI}}</code></p>
<form method="post" action="` + pathLogin + `">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="code">Code</label><input type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" autofocus required>
<button type="submit" id="submit">Turn on</button></form>`)

	recoveryPage = define(`<p>Two-step verification is on. Keep these recovery codes somewhere safe: each signs you in
once if you lose your authenticator. They are not shown again.</p>
<ul class="codes" id="codes">{{range .Codes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="` + pathLogin + `">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit" id="submit">Continue</button></form>`)

	devicePage = define(`<p>Enter the code your device or app shows.</p>
<form method="post" action="` + pathLogin + `">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label for="user_code">Code</label><input type="text" id="user_code" name="user_code" value="{{.UserCode}}" autocomplete="off" autofocus required>
<button type="submit" id="submit">Continue</button></form>`)

	consentPage = define(`<p>Allow <strong>{{.Client}}</strong> (code {{.UserCode}}) to use your account for:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="` + pathLogin + `">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button></form>`)

	messagePage = define(`<p id="message">{{.Message}}</p>`)
)

// render writes a page with the headers every sign-in page needs: never cached,
// never framed (clickjacking), no script at all.
func render(w http.ResponseWriter, log *slog.Logger, status int, t *template.Template, p page) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		log.Error("render sign-in page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// qrCode draws the otpauth:// URI as a PNG data URL; "" if it cannot.
func qrCode(k *otp.Key) template.URL {
	img, err := k.Image(200, 200)
	if err != nil {
		return ""
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return ""
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))
}
