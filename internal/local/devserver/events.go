package devserver

import (
	"html/template"
	"net/http"

	"github.com/healthstack/tenant-provisioning/internal/store"
)

// recentEvents is how many outbox rows /dev/events shows, newest first.
const recentEvents = 200

var eventsTemplate = template.Must(template.New("events").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Lifecycle events</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}code{font-size:12px}.waiting{color:#b36b00}</style>
</head><body><h1>Lifecycle events</h1>
<p>The outbox (internal/outbox), newest first: what the publisher sends, or has sent, to the event bus.</p>
<table><tr><th>seq</th><th>time</th><th>type</th><th>subject</th><th>request</th><th>data</th><th>published</th></tr>
{{range .}}<tr><td>{{.Seq}}</td><td>{{.Time.UTC.Format "2006-01-02 15:04:05.000"}}</td><td>{{.Type}}</td><td><code>{{.Subject}}</code></td>
<td><code>{{.RequestID}}</code></td><td><code>{{printf "%s" .Data}}</code></td>
<td>{{if .PublishedAt}}{{.PublishedAt.UTC.Format "15:04:05.000"}}{{else}}<span class="waiting">waiting</span>{{end}}</td></tr>
{{else}}<tr><td colspan="7">No events yet.</td></tr>{{end}}
</table></body></html>
`))

// eventsPage lists the outbox's newest rows with their published state: with no bus
// configured (EventBusName), the only place the events can be seen.
func eventsPage(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		evs, err := st.RecentEvents(r.Context(), recentEvents)
		if err != nil {
			http.Error(w, "cannot read the outbox", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = eventsTemplate.Execute(w, evs)
	})
}
