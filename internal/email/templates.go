package email

import (
	"cmp"
	"embed"
	"fmt"
	"html"
	"net/url"
	"strings"
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

// The bodies are markup with {{.Name}} placeholders, filled by fill rather than by
// text/template or html/template: merely linking a template executor stops the Go linker from
// dropping unused methods, which added about 7 MiB to every binary that sends e-mail (see
// store.appendMigrations for the same trade).
//
//go:embed templates/*.tmpl
var templateFS embed.FS

// Loaded at package init so a missing file fails every test and every cold start rather than
// the first real send.
var (
	welcomeBodies    = mustLoad("welcome")
	failureBodies    = mustLoad("failure")
	opsFailureBodies = mustLoad("ops_failure")
)

// bodies is one kind of e-mail: a text body and an HTML body, the kind's content already set
// in the shared layout.
type bodies struct{ text, html string }

func mustLoad(kind string) bodies {
	read := func(name string) string {
		b, err := templateFS.ReadFile("templates/" + name)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	return bodies{
		text: read(kind + ".text.tmpl"),
		html: strings.Replace(read("layout.html.tmpl"), "{{.Content}}", read(kind+".html.tmpl"), 1),
	}
}

// render fills in the subject and both bodies. The subject is a header, so it is made one line
// whatever the data holds; the HTML body gets it as {{.Subject}}. A placeholder without a value
// is a bug in a template, so it is an InvariantError; its text names the operation only.
func (b bodies) render(op, to, subject string, values map[string]string) (Message, error) {
	subject = strings.Join(strings.Fields(subject), " ")
	values["Subject"] = subject
	text, err := fill(b.text, values, func(s string) string { return s })
	if err != nil {
		return Message{}, &fault.InvariantError{Op: op, Msg: "template failed", Err: err}
	}
	// html.EscapeString covers text and double-quoted attributes, the only places the
	// templates put values; the URLs in href were checked to be absolute http(s).
	htmlBody, err := fill(b.html, values, html.EscapeString)
	if err != nil {
		return Message{}, &fault.InvariantError{Op: op, Msg: "template failed", Err: err}
	}
	return Message{To: to, Subject: subject, Text: text, HTML: htmlBody}, nil
}

// fill replaces each {{.Name}} in tmpl with escape(values[Name]) in one pass, so a value that
// itself looks like a placeholder stays as typed.
func fill(tmpl string, values map[string]string, escape func(string) string) (string, error) {
	var b strings.Builder
	for {
		before, rest, found := strings.Cut(tmpl, "{{")
		b.WriteString(before)
		if !found {
			return b.String(), nil
		}
		name, after, closed := strings.Cut(rest, "}}")
		v, ok := values[strings.TrimPrefix(name, ".")]
		if !closed || !strings.HasPrefix(name, ".") || !ok {
			return "", fmt.Errorf("placeholder {{%s}} has no value", name)
		}
		b.WriteString(escape(v))
		tmpl = after
	}
}

// greeting is "Hello" with the first name when there is one.
func greeting(firstName string) string {
	if firstName == "" {
		return "Hello"
	}
	return "Hello " + firstName
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
	// Recipients are in many time zones; UTC, spelled out, is unambiguous to all of them.
	return welcomeBodies.render(op, to, "Activate your administrator account for "+w.TenantName, map[string]string{
		"Greeting":      greeting(w.AdminFirstName),
		"TenantName":    w.TenantName,
		"TenantURL":     w.TenantURL,
		"ActivationURL": w.ActivationURL,
		"ExpiresAt":     w.ExpiresAt.UTC().Format("2 January 2006 15:04 UTC"),
	})
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
	return failureBodies.render(op, to, "Setting up "+f.TenantName+" could not be completed", map[string]string{
		"Greeting":    greeting(f.AdminFirstName),
		"TenantName":  f.TenantName,
		"ReferenceID": f.ReferenceID,
	})
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
	subject := "[Provisioning failed] " + cmp.Or(o.TenantName, "unnamed tenant") + " (" + cmp.Or(o.TenantID, "no tenant id") + ")"
	return opsFailureBodies.render(op, to, subject, map[string]string{
		"TenantID":     cmp.Or(o.TenantID, "unknown"),
		"TenantName":   cmp.Or(o.TenantName, "unknown"),
		"FailedStep":   cmp.Or(o.FailedStep, "unknown"),
		"Error":        cmp.Or(o.Error, "unknown"),
		"ExecutionArn": cmp.Or(o.ExecutionArn, "unknown"),
	})
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
