package sesoutbox

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"net/mail"
	"strings"
	"time"
)

// viewerHeaders keep the pages, which show personal data and activation links, out of caches,
// and forbid scripts outright: the mail's HTML is only ever shown inside a sandboxed iframe,
// and the policy, which the srcdoc frame inherits, is a second fence should escaping fail.
func viewerHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "script-src 'none'; object-src 'none'; form-action 'none'; frame-ancestors 'self'")
	h.Set("Referrer-Policy", "no-referrer")
}

func (o *Outbox) listPage(w http.ResponseWriter, r *http.Request) {
	render(w, listTemplate, o.Messages())
}

func (o *Outbox) listJSON(w http.ResponseWriter, r *http.Request) {
	viewerHeaders(w, "application/json")
	msgs := o.Messages()
	if msgs == nil {
		msgs = []Message{} // an empty outbox is [], not null
	}
	_ = json.NewEncoder(w).Encode(msgs)
}

// messagePage serves /outbox/messages/{id} and, for an id ending in .eml, the message file;
// ServeMux wildcards match whole segments only, so one route takes both.
func (o *Outbox) messagePage(w http.ResponseWriter, r *http.Request) {
	id, wantEML := strings.CutSuffix(r.PathValue("id"), ".eml")
	rec, ok := o.find(id)
	if !ok {
		http.Error(w, "no such message in the outbox (it may have been dropped from memory; the .eml file stays)", http.StatusNotFound)
		return
	}
	if wantEML {
		viewerHeaders(w, "message/rfc822")
		w.Header().Set("Content-Disposition", `attachment; filename="`+id+`.eml"`)
		_, _ = w.Write(rec.eml)
		return
	}
	render(w, messageTemplate, rec.msg)
}

// render executes into a buffer first so a failing template cannot leave half a page.
func render(w http.ResponseWriter, t *template.Template, data any) {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		http.Error(w, "sesoutbox: render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	viewerHeaders(w, "text/html; charset=utf-8")
	_, _ = b.WriteTo(w)
}

var pageFuncs = template.FuncMap{
	"addr": displayAddress,
	"addrs": func(list []string) string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = displayAddress(s)
		}
		return strings.Join(out, ", ")
	},
	"stamp": func(t time.Time) string { return t.Format("2006-01-02 15:04:05 UTC") },
	"iso":   func(t time.Time) string { return t.Format(time.RFC3339) },
}

// displayAddress shows an address with its display name decoded (senders may give it as an
// RFC 2047 encoded word); what does not parse is shown as given.
func displayAddress(s string) string {
	a, err := mail.ParseAddress(s)
	switch {
	case err != nil:
		return s
	case a.Name == "":
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

// The pages link relatively, so the outbox also works mounted under a prefix with
// http.StripPrefix.
const pageHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{template "title" .}} – SES outbox</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;vertical-align:top}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{font-weight:600}dd{margin:0}
iframe{width:100%;height:60vh;border:1px solid #ccc}
pre{white-space:pre-wrap;background:#f6f6f6;padding:1em}
</style></head><body>`

var listTemplate = template.Must(template.New("list").Funcs(pageFuncs).Parse(pageHead +
	`{{define "title"}}Sent mail{{end}}
<h1>Sent mail</h1>
<p>{{len .}} message(s) in memory, newest first. <a href="outbox/messages.json">JSON</a></p>
<table><thead><tr><th>Sent</th><th>To</th><th>Subject</th><th>From</th><th></th></tr></thead><tbody>
{{range .}}<tr>
<td><time datetime="{{iso .SentAt}}">{{stamp .SentAt}}</time></td>
<td>{{addrs .To}}</td>
<td><a href="outbox/messages/{{.ID}}">{{.Subject}}</a></td>
<td>{{addr .From}}</td>
<td><a href="outbox/messages/{{.ID}}.eml">.eml</a></td>
</tr>
{{else}}<tr><td colspan="5">Nothing sent yet.</td></tr>
{{end}}</tbody></table></body></html>
`))

// The mail's HTML goes into srcdoc as a plain string, so html/template escapes it as an
// attribute value: the browser gets back exactly the HTML that was sent, as a document of its
// own. The sandbox grants no scripts, no same-origin and no forms; popups are allowed so that
// links with target=_blank (activation links, say) still open, outside the sandbox.
var messageTemplate = template.Must(template.New("message").Funcs(pageFuncs).Parse(pageHead +
	`{{define "title"}}{{.Subject}}{{end}}
<p><a href="../../outbox">← all messages</a> · <a href="{{.ID}}.eml">download .eml</a></p>
<h1>{{.Subject}}</h1>
<dl>
<dt>From</dt><dd>{{addr .From}}</dd>
<dt>To</dt><dd>{{addrs .To}}</dd>
{{with .Cc}}<dt>Cc</dt><dd>{{addrs .}}</dd>{{end}}
{{with .Bcc}}<dt>Bcc</dt><dd>{{addrs .}}</dd>{{end}}
{{with .ReplyTo}}<dt>Reply-To</dt><dd>{{addrs .}}</dd>{{end}}
<dt>Sent</dt><dd><time datetime="{{iso .SentAt}}">{{stamp .SentAt}}</time></dd>
{{with .ConfigurationSet}}<dt>Configuration set</dt><dd>{{.}}</dd>{{end}}
<dt>Message id</dt><dd>{{.ID}}</dd>
{{with .File}}<dt>File</dt><dd>{{.}}</dd>{{end}}
</dl>
{{if .HTML}}<h2>HTML part</h2>
<iframe title="HTML part" sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer" srcdoc="{{.HTML}}"></iframe>{{end}}
{{if .Text}}<h2>Text part</h2>
<pre>{{.Text}}</pre>{{end}}
</body></html>
`))
