package email

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Hostile names: the HTML must escape them, the text body must keep them as typed.
const (
	evilTenant     = `<script>alert(1)</script> Clinic`
	evilTenantHTML = `&lt;script&gt;alert(1)&lt;/script&gt; Clinic`
	evilFirst      = `Zoë <b>"Ann"</b>`
	evilFirstHTML  = `Zoë &lt;b&gt;&#34;Ann&#34;&lt;/b&gt;`

	adminAddress   = "zoe.admin@clinic.example"
	tenantURL      = "https://st-mary.health.example/"
	activationURL  = "https://st-mary.health.example/activate?token=tok_3f9a7c1e&lang=en"
	activationHTML = "https://st-mary.health.example/activate?token=tok_3f9a7c1e&amp;lang=en"
	token          = "tok_3f9a7c1e"
	referenceID    = "REF-7Q4K-92XD"
)

// expiresAt is 15:04 UTC, given in another zone to show the e-mail converts it.
var expiresAt = time.Date(2027, 1, 2, 16, 4, 0, 0, time.FixedZone("CET", 3600))

func welcome() Welcome {
	return Welcome{TenantName: evilTenant, AdminFirstName: evilFirst, TenantURL: tenantURL, ActivationURL: activationURL, ExpiresAt: expiresAt}
}

func failureNotice() FailureNotice {
	return FailureNotice{TenantName: evilTenant, AdminFirstName: evilFirst, ReferenceID: referenceID}
}

func opsFailure() OpsFailure {
	return OpsFailure{
		TenantID:     "0b7e6a52-3f1d-4c59-9a53-6b1f1d1c2e10",
		TenantName:   evilTenant,
		FailedStep:   "CreateSchema",
		Error:        "create schema: SQLSTATE 42P07 <duplicate>",
		ExecutionArn: "arn:aws:states:us-east-1:123456789012:execution:provision:0b7e6a52",
	}
}

// technicalWords must never reach the admin: the cause of a failure is for operations only.
var technicalWords = []string{
	"error", "exception", "stack", "sql", "database", "schema", "lambda", "step function",
	"rollback", "rolled back", "arn:", "execution", "provisioning", "timeout",
}

func TestRender(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		build   func() (Message, error)
		subject string
		text    []string // in the text body, literally
		html    []string // in the HTML body, escaped
		absent  []string // in neither body, case-insensitively
	}{
		{
			name:    "welcome",
			build:   func() (Message, error) { return WelcomeMessage(adminAddress, welcome()) },
			subject: "Activate your administrator account for " + evilTenant,
			text: []string{
				"Hello " + evilFirst + ",", evilTenant, tenantURL, activationURL,
				"2 January 2027 15:04 UTC", "used only once", "did not expect this e-mail", "ignore",
			},
			html: []string{
				"<title>Activate your administrator account for " + evilTenantHTML + "</title>",
				"Hello " + evilFirstHTML + ",", evilTenantHTML, `href="` + tenantURL + `"`, `href="` + activationHTML + `"`,
				"2 January 2027 15:04 UTC", "used only once", "did not expect this e-mail", "ignore",
			},
			absent: []string{adminAddress},
		},
		{
			name: "welcome without a first name",
			build: func() (Message, error) {
				w := welcome()
				w.AdminFirstName = ""
				return WelcomeMessage(adminAddress, w)
			},
			subject: "Activate your administrator account for " + evilTenant,
			text:    []string{"Hello,\n", activationURL},
			html:    []string{"Hello,</p>", activationHTML},
		},
		{
			name:    "failure notice",
			build:   func() (Message, error) { return FailureNoticeMessage(adminAddress, failureNotice()) },
			subject: "Setting up " + evilTenant + " could not be completed",
			// Truthful: the setup is removed, but the registration (with the admin's name
			// and address) is kept on the FAILED tenant for a retry.
			text: []string{"Hello " + evilFirst + ",", evilTenant, referenceID, "including any accounts, has been removed",
				"We have kept your organisation's registration", "team has been notified", "support"},
			html: []string{"<title>Setting up " + evilTenantHTML + " could not be completed</title>",
				"Hello " + evilFirstHTML + ",", evilTenantHTML, referenceID, "including any accounts, has been removed",
				"We have kept your organisation's registration", "team has been notified", "support"},
			absent: append([]string{adminAddress, "no account or data has been kept"}, technicalWords...),
		},
		{
			name:    "operations failure",
			build:   func() (Message, error) { return OpsFailureMessage("ops@health.example", opsFailure()) },
			subject: "[Provisioning failed] " + evilTenant + " (0b7e6a52-3f1d-4c59-9a53-6b1f1d1c2e10)",
			text: []string{
				"0b7e6a52-3f1d-4c59-9a53-6b1f1d1c2e10", evilTenant, "CreateSchema",
				"create schema: SQLSTATE 42P07 <duplicate>", opsFailure().ExecutionArn,
			},
			html: []string{
				"0b7e6a52-3f1d-4c59-9a53-6b1f1d1c2e10", evilTenantHTML, "CreateSchema",
				"create schema: SQLSTATE 42P07 &lt;duplicate&gt;", opsFailure().ExecutionArn,
			},
		},
		{
			name:    "operations failure with blank fields",
			build:   func() (Message, error) { return OpsFailureMessage("ops@health.example", OpsFailure{}) },
			subject: "[Provisioning failed] unnamed tenant (no tenant id)",
			text:    []string{"Tenant ID:     unknown", "Error:         unknown"},
			html:    []string{">unknown</td>"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m, err := c.build()
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			if m.Subject != c.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, c.subject)
			}
			if strings.Contains(m.Subject, "Zoë") {
				t.Errorf("Subject names a person, and subjects are logged: %q", m.Subject)
			}
			for _, s := range c.text {
				if !strings.Contains(m.Text, s) {
					t.Errorf("text body lacks %q:\n%s", s, m.Text)
				}
			}
			for _, s := range c.html {
				if !strings.Contains(m.HTML, s) {
					t.Errorf("HTML body lacks %q:\n%s", s, m.HTML)
				}
			}
			for _, s := range c.absent {
				for part, body := range map[string]string{"subject": m.Subject, "text": m.Text, "HTML": m.HTML} {
					if strings.Contains(strings.ToLower(body), strings.ToLower(s)) {
						t.Errorf("%s contains %q", part, s)
					}
				}
			}
		})
	}
}

// TestHTMLIsSelfContained checks every HTML body parses as well-formed markup and loads nothing
// from elsewhere: remote images and scripts are trackers and attack surface in a clinic's inbox.
func TestHTMLIsSelfContained(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		build func() (Message, error)
	}{
		{"welcome", func() (Message, error) { return WelcomeMessage(adminAddress, welcome()) }},
		{"failure notice", func() (Message, error) { return FailureNoticeMessage(adminAddress, failureNotice()) }},
		{"operations failure", func() (Message, error) { return OpsFailureMessage("ops@health.example", opsFailure()) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m, err := c.build()
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			var open []string
			for _, tok := range htmlTokens(t, m.HTML) {
				switch tok := tok.(type) {
				case xml.StartElement:
					open = append(open, tok.Name.Local)
				case xml.EndElement:
					open = open[:len(open)-1]
				}
			}
			if len(open) != 0 {
				t.Errorf("unclosed elements %v", open)
			}
			lower := strings.ToLower(m.HTML)
			for _, s := range []string{"<script", "<img", "<link", "<iframe", "<style", " src=", "url(", "@import"} {
				if strings.Contains(lower, s) {
					t.Errorf("HTML contains %q", s)
				}
			}
		})
	}
}

func TestConstructorsRejectInvalidInput(t *testing.T) {
	t.Parallel()
	withWelcome := func(edit func(*Welcome)) func() (Message, error) {
		return func() (Message, error) {
			w := welcome()
			edit(&w)
			return WelcomeMessage(adminAddress, w)
		}
	}
	cases := []struct {
		name   string
		build  func() (Message, error)
		fields []string
	}{
		{"welcome without recipient", func() (Message, error) { return WelcomeMessage("", welcome()) }, []string{"to"}},
		{"welcome with blank recipient", func() (Message, error) { return WelcomeMessage(" \t", welcome()) }, []string{"to"}},
		{"welcome without tenant name", withWelcome(func(w *Welcome) { w.TenantName = "" }), []string{"tenantName"}},
		{"relative activation URL", withWelcome(func(w *Welcome) { w.ActivationURL = "/activate?token=" + token }), []string{"activationURL"}},
		{"javascript activation URL", withWelcome(func(w *Welcome) { w.ActivationURL = "javascript:alert('" + token + "')" }), []string{"activationURL"}},
		{"activation URL without host", withWelcome(func(w *Welcome) { w.ActivationURL = "https:///activate?token=" + token }), []string{"activationURL"}},
		{"unparsable activation URL", withWelcome(func(w *Welcome) { w.ActivationURL = "https://st mary%zz/?token=" + token }), []string{"activationURL"}},
		{"ftp tenant URL", withWelcome(func(w *Welcome) { w.TenantURL = "ftp://st-mary.health.example/" }), []string{"tenantURL"}},
		{"no expiry", withWelcome(func(w *Welcome) { w.ExpiresAt = time.Time{} }), []string{"expiresAt"}},
		{"several problems", func() (Message, error) { return WelcomeMessage("", Welcome{}) },
			[]string{"to", "tenantName", "tenantURL", "activationURL", "expiresAt"}},
		{"failure notice without reference", func() (Message, error) {
			f := failureNotice()
			f.ReferenceID = ""
			return FailureNoticeMessage(adminAddress, f)
		}, []string{"referenceID"}},
		{"failure notice without recipient", func() (Message, error) { return FailureNoticeMessage("", failureNotice()) }, []string{"to"}},
		{"operations failure without recipient", func() (Message, error) { return OpsFailureMessage("", opsFailure()) }, []string{"to"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.build()
			var ve *fault.ValidationError
			if !errors.As(err, &ve) || fault.Name(err) != "ValidationError" {
				t.Fatalf("err = %v (%s), want *fault.ValidationError", err, fault.Name(err))
			}
			var got []string
			for _, f := range ve.Fields {
				got = append(got, f.Field)
			}
			if !slices.Equal(got, c.fields) {
				t.Errorf("fields = %v, want %v", got, c.fields)
			}
			for _, leak := range []string{adminAddress, token, "Zoë", "script"} {
				if strings.Contains(err.Error(), leak) || strings.Contains(fieldMessages(ve), leak) {
					t.Errorf("error repeats input %q: %v", leak, err)
				}
			}
		})
	}
}

func fieldMessages(ve *fault.ValidationError) string {
	var b strings.Builder
	for _, f := range ve.Fields {
		b.WriteString(f.Message)
	}
	return b.String()
}

func TestMessageLogValueHidesRecipientAndBodies(t *testing.T) {
	t.Parallel()
	m, err := WelcomeMessage(adminAddress, welcome())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("sending", "message", m, "pointer", &m)
	out := buf.String()
	for _, leak := range []string{adminAddress, token, "Zoë", "st-mary"} {
		if strings.Contains(out, leak) {
			t.Errorf("log line contains %q: %s", leak, out)
		}
	}
	if !strings.Contains(out, "Activate your administrator account") {
		t.Errorf("log line lacks the subject: %s", out)
	}
}

// TestHostileValuesStayInert feeds every e-mail values that try to break out of an attribute,
// open elements, inject a header through the subject and pass for a placeholder.
func TestHostileValuesStayInert(t *testing.T) {
	t.Parallel()
	const (
		breakout     = `"><img src=x onerror=alert(1)> it's {{.ActivationURL}}`
		breakoutHTML = `&#34;&gt;&lt;img src=x onerror=alert(1)&gt; it&#39;s {{.ActivationURL}}`
		header       = "\r\nBcc: attacker@evil.example\u2028X-Evil: 1"
		script       = `<script>alert('x')</script>`
	)
	tenant := breakout + header
	cases := []struct {
		name  string
		build func() (Message, error)
	}{
		{"welcome", func() (Message, error) {
			w := welcome()
			w.TenantName, w.AdminFirstName = tenant, script
			return WelcomeMessage(adminAddress, w)
		}},
		{"failure notice", func() (Message, error) {
			f := failureNotice()
			f.TenantName, f.AdminFirstName = tenant, script
			return FailureNoticeMessage(adminAddress, f)
		}},
		{"operations failure", func() (Message, error) {
			o := opsFailure()
			o.TenantName, o.TenantID, o.Error = tenant, breakout, script
			return OpsFailureMessage("ops@health.example", o)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			m, err := c.build()
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			if strings.ContainsAny(m.Subject, "\r\n\u2028\u0085") || !strings.Contains(m.Subject, "Bcc: attacker@evil.example X-Evil: 1") {
				t.Errorf("Subject is not one line: %q", m.Subject)
			}
			if !strings.Contains(m.Text, breakout) || !strings.Contains(m.HTML, breakoutHTML) {
				t.Errorf("value not kept as typed in text and escaped in HTML:\n%s\n%s", m.Text, m.HTML)
			}
			if strings.Count(m.Text, activationURL) > 1 {
				t.Errorf("a value was read as a placeholder:\n%s", m.Text)
			}
			for _, tok := range htmlTokens(t, m.HTML) {
				el, ok := tok.(xml.StartElement)
				if !ok {
					continue
				}
				if el.Name.Local == "img" || el.Name.Local == "script" {
					t.Errorf("a value opened <%s>", el.Name.Local)
				}
				for _, a := range el.Attr {
					if a.Name.Local == "onerror" || (a.Name.Local == "href" && !strings.HasPrefix(a.Value, "https://st-mary.health.example/")) {
						t.Errorf("a value set %s=%q", a.Name.Local, a.Value)
					}
				}
			}
		})
	}
}

func TestUnfilledPlaceholderIsAnInvariantError(t *testing.T) {
	t.Parallel()
	for _, tmpl := range []string{"{{.Missing}}", `{{or .TenantName "x"}}`, "{{.TenantName"} {
		b := bodies{text: "Hello " + tmpl, html: "<p>Hello</p>"}
		_, err := b.render("render test e-mail", adminAddress, "Subject", map[string]string{"TenantName": evilTenant})
		if fault.Name(err) != "InvariantError" {
			t.Errorf("%s: err = %v (%s), want InvariantError", tmpl, err, fault.Name(err))
		}
		if err != nil && strings.Contains(err.Error(), "script") {
			t.Errorf("%s: error repeats a value: %v", tmpl, err)
		}
	}
}

// htmlTokens reads an e-mail's HTML body as strict XML (our markup is XHTML-clean), failing
// the test where it is not well-formed.
func htmlTokens(t *testing.T, html string) []xml.Token {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(html))
	d.Strict = true
	var toks []xml.Token
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return toks
		}
		if err != nil {
			t.Fatalf("HTML is not well-formed: %v\n%s", err, html)
		}
		toks = append(toks, xml.CopyToken(tok))
	}
}
