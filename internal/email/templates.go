package email

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/fault"
)

// Welcome is what the tenant admin needs to take over a freshly provisioned tenant.
type Welcome struct {
	TenantName     string
	AdminFirstName string
	TenantURL      string
	ActivationURL  string // carries the single-use token: it must only ever reach the e-mail
	ExpiresAt      time.Time
}

// FailureNotice tells the admin that provisioning failed, without saying why: the cause goes to
// operations (OpsFailure), the admin gets a reference to quote.
type FailureNotice struct {
	TenantName     string
	AdminFirstName string
	ReferenceID    string
}

// OpsFailure tells the operations mailbox what failed. Error must already be sanitised; there is
// deliberately no field for the admin's address or names.
type OpsFailure struct {
	TenantID     string
	TenantName   string
	FailedStep   string
	Error        string
	ExecutionArn string
}

//go:embed templates/*.tmpl
var templateFS embed.FS

// funcs are shared by the text and HTML templates so both bodies say the same thing.
var funcs = map[string]any{
	// Recipients are in many time zones; UTC, spelled out, is unambiguous to all of them.
	"utc": func(t time.Time) string { return t.UTC().Format("2 January 2006 15:04 UTC") },
}

// Parsed at package init so a broken template fails every test and every cold start rather
// than the first real send.
var (
	welcomeTemplates    = mustParse("welcome")
	failureTemplates    = mustParse("failure")
	opsFailureTemplates = mustParse("ops_failure")
)

// templates is one kind of e-mail: subject and text body are text/template, the HTML body is
// html/template so that names are escaped for the context they land in.
type templates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template // executes "layout", which calls "subject" and "content"
}

func mustParse(kind string) templates {
	read := func(name string) string {
		b, err := templateFS.ReadFile("templates/" + name)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	subject := strings.TrimSpace(read(kind + ".subject.tmpl"))
	html := htmltemplate.Must(htmltemplate.New("layout").Funcs(funcs).Parse(read("layout.html.tmpl")))
	htmltemplate.Must(html.New("subject").Parse(subject))
	htmltemplate.Must(html.New("content").Parse(read(kind + ".html.tmpl")))
	return templates{
		subject: texttemplate.Must(texttemplate.New("subject").Funcs(funcs).Parse(subject)),
		text:    texttemplate.Must(texttemplate.New("text").Funcs(funcs).Parse(read(kind + ".text.tmpl"))),
		html:    html,
	}
}

// render fills in all three parts. An execution error is a bug in a template (the data types
// are fixed), so it is an InvariantError; its text names the operation only.
func (t templates) render(op, to string, data any) (Message, error) {
	var subject, text, html bytes.Buffer
	for _, err := range []error{
		t.subject.Execute(&subject, data),
		t.text.Execute(&text, data),
		t.html.Execute(&html, data),
	} {
		if err != nil {
			return Message{}, &fault.InvariantError{Op: op, Msg: "template failed", Err: err}
		}
	}
	return Message{
		To: to,
		// One line whatever the data holds: a subject is a header.
		Subject: strings.Join(strings.Fields(subject.String()), " "),
		Text:    text.String(),
		HTML:    html.String(),
	}, nil
}

// WelcomeMessage renders the e-mail that hands a provisioned tenant to its admin.
func WelcomeMessage(to string, w Welcome) (Message, error) {
	const op = "render welcome e-mail"
	var v validator
	v.required("to", to)
	v.required("tenantName", w.TenantName)
	v.webURL("tenantURL", w.TenantURL)
	v.webURL("activationURL", w.ActivationURL)
	if w.ExpiresAt.IsZero() {
		v.add("expiresAt", "is required")
	}
	if err := v.err(op); err != nil {
		return Message{}, err
	}
	return welcomeTemplates.render(op, to, w)
}

// FailureNoticeMessage renders the admin's notice that provisioning failed and was undone.
func FailureNoticeMessage(to string, f FailureNotice) (Message, error) {
	const op = "render failure notice"
	var v validator
	v.required("to", to)
	v.required("tenantName", f.TenantName)
	v.required("referenceID", f.ReferenceID)
	if err := v.err(op); err != nil {
		return Message{}, err
	}
	return failureTemplates.render(op, to, f)
}

// OpsFailureMessage renders the operations alert for a failed provisioning. Only the recipient
// is required: an alert with a blank field beats no alert.
func OpsFailureMessage(to string, o OpsFailure) (Message, error) {
	const op = "render operations failure e-mail"
	var v validator
	v.required("to", to)
	if err := v.err(op); err != nil {
		return Message{}, err
	}
	return opsFailureTemplates.render(op, to, o)
}

// validator collects field problems. Messages are constants: the values are addresses, names
// and tokens.
type validator struct{ fields []fault.FieldError }

func (v *validator) add(field, msg string) {
	v.fields = append(v.fields, fault.FieldError{Field: field, Message: msg})
}

func (v *validator) required(field, s string) {
	if strings.TrimSpace(s) == "" {
		v.add(field, "is required")
	}
}

// webURL insists on an absolute http(s) URL: a relative or javascript: link in an e-mail is
// useless at best.
func (v *validator) webURL(field, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		v.add(field, "must be an absolute http(s) URL")
	}
}

func (v *validator) err(op string) error {
	if v.fields == nil {
		return nil
	}
	return &fault.ValidationError{Op: op, Fields: v.fields}
}
