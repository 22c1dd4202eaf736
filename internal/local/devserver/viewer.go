package devserver

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/healthstack/tenant-provisioning/internal/local/asl"
	"github.com/healthstack/tenant-provisioning/internal/local/execution"
	"github.com/healthstack/tenant-provisioning/statemachine"
)

// stateOrders are each state machine's states in a readable order: the main chain from
// StartAt (a Choice's Default, then its choices), then the failure branches, then the rest.
var stateOrders = map[string][]string{
	execution.StateMachineName:        stateOrder(statemachine.Provisioning),
	execution.UpgradeStateMachineName: stateOrder(statemachine.Upgrade),
}

func stateOrder(definition []byte) []string {
	var def struct {
		StartAt string `json:"StartAt"`
		States  map[string]struct {
			Next    string `json:"Next"`
			Default string `json:"Default"`
			Choices []struct {
				Next string `json:"Next"`
			} `json:"Choices"`
			Catch []struct {
				Next string `json:"Next"`
			} `json:"Catch"`
		} `json:"States"`
	}
	if json.Unmarshal(definition, &def) != nil {
		return nil
	}
	var order []string
	seen := map[string]bool{}
	var walk func(string)
	walk = func(name string) {
		for name != "" && !seen[name] {
			seen[name] = true
			order = append(order, name)
			st := def.States[name]
			for _, c := range st.Catch {
				defer walk(c.Next)
			}
			for _, c := range st.Choices {
				defer walk(c.Next)
			}
			name = st.Next
			if name == "" {
				name = st.Default
			}
		}
	}
	walk(def.StartAt)
	rest := []string{}
	for name := range def.States {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(order, rest...)
}

// stateView is one box of the state graph.
type stateView struct {
	Name     string
	Status   string // "not reached", "running", "succeeded", "retried", "failed", "caught"
	Attempts int
	Took     string
	Error    string
}

type executionView struct {
	asl.Execution
	Machine  string
	States   []stateView
	Duration string
	MapRuns  []mapRunView
}

// mapRunView is a distributed Map's run: its counts and its child executions.
type mapRunView struct {
	asl.MapRun
	Children []childView
}

type childView struct {
	Name, Status, Duration, Error string
	Items                         int // the batch's items (1 without an ItemBatcher)
}

func duration(start, stop time.Time) string {
	if stop.IsZero() {
		stop = time.Now()
	}
	return stop.Sub(start).Round(time.Millisecond).String()
}

func view(e asl.Execution) executionView {
	v := executionView{Execution: e, Machine: e.StateMachineArn[strings.LastIndexByte(e.StateMachineArn, ':')+1:]}
	v.Duration = duration(e.StartDate, e.StopDate)
	for _, mr := range e.MapRuns {
		mv := mapRunView{MapRun: mr}
		for _, c := range mr.Executions {
			var in struct {
				Items []json.RawMessage `json:"Items"`
			}
			items := 1
			if json.Unmarshal(c.Input, &in) == nil && in.Items != nil {
				items = len(in.Items)
			}
			mv.Children = append(mv.Children, childView{Name: c.Name, Status: string(c.Status),
				Duration: duration(c.StartDate, c.StopDate), Error: c.Error, Items: items})
		}
		v.MapRuns = append(v.MapRuns, mv)
	}
	byName := map[string]*stateView{}
	entered := map[string]time.Time{}
	for _, ev := range e.Events {
		s := byName[ev.StateName]
		if s == nil && ev.StateName != "" {
			s = &stateView{Name: ev.StateName}
			byName[ev.StateName] = s
		}
		t := string(ev.Type)
		switch {
		case s == nil:
		case strings.HasSuffix(t, "StateEntered"):
			s.Status, entered[ev.StateName] = "running", ev.Timestamp
			if t == "FailStateEntered" {
				s.Status = "failed"
			}
		case t == "LambdaFunctionScheduled":
			s.Attempts++
		case t == "LambdaFunctionFailed" || t == "LambdaFunctionTimedOut":
			s.Error = ev.Error
		case strings.HasSuffix(t, "StateExited"):
			s.Took = ev.Timestamp.Sub(entered[ev.StateName]).Round(time.Millisecond).String()
			switch {
			case s.Error != "" && t == "TaskStateExited" && s.Attempts > 0 && !succeeded(e, ev.StateName):
				s.Status = "caught"
			case s.Attempts > 1:
				s.Status = "retried"
			default:
				s.Status = "succeeded"
			}
		}
	}
	for _, name := range stateOrders[v.Machine] {
		if s, ok := byName[name]; ok {
			v.States = append(v.States, *s)
		} else {
			v.States = append(v.States, stateView{Name: name, Status: "not reached"})
		}
	}
	return v
}

func succeeded(e asl.Execution, state string) bool {
	for _, ev := range e.Events {
		if ev.StateName == state && ev.Type == "LambdaFunctionSucceeded" {
			return true
		}
	}
	return false
}

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"ts": func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
}).Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{.}}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}
.st{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;background:#888}
.SUCCEEDED,.succeeded{background:#2e7d32}.FAILED,.failed{background:#c62828}.RUNNING,.running{background:#1565c0}
.retried{background:#ef6c00}.caught{background:#8e24aa}.TIMED_OUT,.ABORTED{background:#5d4037}.not.reached{background:#bbb}
.graph{display:flex;flex-direction:column;gap:6px;margin:16px 0}.node{padding:8px 12px;border-radius:6px;width:420px;color:#fff}
small{color:#666}
</style></head><body>{{end}}
{{define "list"}}{{template "head" "Executions"}}<meta http-equiv="refresh" content="2">
<h1>Executions</h1><p><small>Newest first; refreshes every 2 s. JSON: <a href="/executions.json">/executions.json</a></small></p>
<table><tr><th>Execution (tenant id, or upgrade run id)</th><th>State machine</th><th>Status</th><th>Started</th><th>Duration</th><th>States</th><th>Child executions</th></tr>
{{range .}}<tr><td><a href="/executions/{{.Name}}">{{.Name}}</a></td><td>{{.Machine}}</td><td><span class="st {{.Status}}">{{.Status}}</span></td>
<td>{{ts .StartDate}}</td><td>{{.Duration}}</td><td>{{len .Route}}</td><td>{{range .MapRuns}}{{.ExecutionCounts.Total}} {{end}}</td></tr>{{else}}<tr><td colspan="7">No executions yet: POST /admin/tenants, or POST /admin/upgrades.</td></tr>{{end}}
</table></body></html>{{end}}
{{define "one"}}{{template "head" .Name}}{{if eq .Status "RUNNING"}}<meta http-equiv="refresh" content="1">{{end}}
<p><a href="/executions">← executions</a></p><h1>{{.Name}}</h1>
<p><span class="st {{.Status}}">{{.Status}}</span> {{.Duration}} <small>{{.Arn}}</small></p>
{{if .Error}}<p><b>{{.Error}}</b>: {{.Cause}}</p>{{end}}
<div class="graph">{{range .States}}<div class="node {{.Status}}" style="background:{{if eq .Status "not reached"}}#bbb{{end}}">
<b>{{.Name}}</b> — {{.Status}}{{if .Took}} in {{.Took}}{{end}}{{if gt .Attempts 1}}, {{.Attempts}} attempts{{end}}{{if .Error}} ({{.Error}}){{end}}</div>{{end}}</div>
{{range .MapRuns}}<h2>Map run: {{.StateName}}</h2>
<p><span class="st {{.Status}}">{{.Status}}</span> <small>{{.Arn}}</small><br>
items: {{.ItemCounts.Total}} total, {{.ItemCounts.Succeeded}} succeeded, {{.ItemCounts.Failed}} failed, {{.ItemCounts.Running}} running, {{.ItemCounts.Pending}} pending, {{.ItemCounts.Aborted}} aborted;
child executions: {{.ExecutionCounts.Total}} (max {{.MaxConcurrency}} at once, {{.ToleratedFailurePercentage}}% of items may fail)</p>
<table><tr><th>Child execution</th><th>Items</th><th>Status</th><th>Duration</th><th>Error</th></tr>
{{range .Children}}<tr><td>{{.Name}}</td><td>{{.Items}}</td><td><span class="st {{.Status}}">{{.Status}}</span></td><td>{{.Duration}}</td><td>{{.Error}}</td></tr>{{end}}
</table>{{end}}
<h2>History</h2><p><small>JSON (with each child execution's history): <a href="/executions/{{.Name}}.json">{{.Name}}.json</a></small></p>
<table><tr><th>#</th><th>Time</th><th>Type</th><th>State</th><th>Error</th></tr>
{{range .Events}}<tr><td>{{.ID}}</td><td>{{ts .Timestamp}}</td><td>{{.Type}}</td><td>{{.StateName}}</td><td>{{.Error}}</td></tr>{{end}}
</table></body></html>{{end}}
`))

// viewer serves the executions of every runner (provisioning, upgrades): /executions
// (HTML), /executions.json, /executions/{name} (HTML with the state graph and any map
// run's child executions) and /executions/{name}.json (the history).
func viewer(runners ...*execution.Runner) http.Handler {
	list := func() []asl.Execution {
		var all []asl.Execution
		for _, r := range runners {
			all = append(all, r.List()...)
		}
		sort.SliceStable(all, func(i, j int) bool { return all[i].StartDate.After(all[j].StartDate) })
		return all
	}
	get := func(name string) (*asl.Running, bool) {
		for _, r := range runners {
			if run, ok := r.Get(name); ok {
				return run, true
			}
		}
		return nil, false
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /executions", func(w http.ResponseWriter, r *http.Request) {
		var vs []executionView
		for _, e := range list() {
			vs = append(vs, view(e))
		}
		render(w, "list", vs)
	})
	mux.HandleFunc("GET /executions.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, list())
	})
	mux.HandleFunc("GET /executions/{name}", func(w http.ResponseWriter, r *http.Request) {
		name, asJSON := strings.CutSuffix(r.PathValue("name"), ".json")
		run, ok := get(name)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if asJSON {
			writeJSON(w, run.Snapshot())
			return
		}
		render(w, "one", view(run.Snapshot()))
	})
	return mux
}

func render(w http.ResponseWriter, page string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, page, data); err != nil {
		http.Error(w, "cannot render page", http.StatusInternalServerError)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
