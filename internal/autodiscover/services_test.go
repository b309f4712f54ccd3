package autodiscover

import (
	"os"
	"testing"

	"mailroom/internal/config"
)

func TestServicesFromConfig(t *testing.T) {
	got := testServices()
	want := Services{
		IMAP:       MailService{Host: "mail.example.test", ImplicitTLSPort: 2993, STARTTLSPort: 2143},
		POP3:       MailService{Host: "mail.example.test", ImplicitTLSPort: 2995, STARTTLSPort: 2110},
		Submission: MailService{Host: "mail.example.test", ImplicitTLSPort: 2465, STARTTLSPort: 2587},
		HTTPS:      "https://mail.example.test:8443",
		ActiveSync: "https://mail.example.test:8443/Microsoft-Server-ActiveSync",
		CalDAV:     "https://mail.example.test:8443/.well-known/caldav",
		CardDAV:    "https://mail.example.test:8443/.well-known/carddav",
	}
	if got != want {
		t.Errorf("default config:\n%+v\nwant\n%+v", got, want)
	}

	cfg := config.Default(os.TempDir(), "mx.example.test")
	cfg.IMAP = config.Listeners{TLSListen: []string{"127.0.0.1:2993", "[::]:993"}}
	cfg.POP3 = config.Listeners{}
	cfg.SMTP.Submission = []string{"bogus", ":0", "0.0.0.0:10587"}
	cfg.SMTP.Submissions = nil
	cfg.HTTP.TLSListen = []string{":8443", ":443"}
	got = ServicesFromConfig(cfg)
	want = Services{
		IMAP:       MailService{Host: "mx.example.test", ImplicitTLSPort: 993},
		Submission: MailService{Host: "mx.example.test", STARTTLSPort: 10587},
		HTTPS:      "https://mx.example.test",
		ActiveSync: "https://mx.example.test/Microsoft-Server-ActiveSync",
		CalDAV:     "https://mx.example.test/.well-known/caldav",
		CardDAV:    "https://mx.example.test/.well-known/carddav",
	}
	if got != want {
		t.Errorf("custom config:\n%+v\nwant\n%+v", got, want)
	}

	cfg.HTTP.TLSListen = nil
	if got := ServicesFromConfig(cfg); got.HTTPS != "" || got.ActiveSync != "" || got.CalDAV != "" {
		t.Errorf("no HTTPS listener: %+v", got)
	}
}

func TestPreferredEndpoint(t *testing.T) {
	m := MailService{Host: "h", ImplicitTLSPort: 993, STARTTLSPort: 143}
	if ep, _ := m.preferred(true); ep != (endpoint{"h", 993, ImplicitTLS}) {
		t.Errorf("implicit first: %+v", ep)
	}
	if ep, _ := m.preferred(false); ep != (endpoint{"h", 143, STARTTLS}) {
		t.Errorf("STARTTLS first: %+v", ep)
	}
	if _, ok := (MailService{ImplicitTLSPort: 993}).preferred(true); ok {
		t.Error("a service without host is offered")
	}
}
